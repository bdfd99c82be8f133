"""What the test suites share: plain helpers, no fixtures (those live in the conftest files).

- `api`: a witness's and a staff member's first steps through the HTTP API.
- `uploads`: raw tus uploads through a TestClient or httpx client.
- `tus_requests`: tus requests spelled out header by header, and the checks of a refusal.
- `custody`: reading the custody log, and what an attacker does before rewriting it.
- `evidence`: evidence items made by real uploads.
- `retention`: the retention suites' clock, witnesses and staff steps.
- `routes`: every API route and the guard that protects it.
- `web`: the web pages under uvicorn and Chromium.
- `servers`: PostgreSQL, SeaweedFS and `portal serve` in child processes.
- `media`: test media generated at test time.
- `tus_client`, `faultpoints`: programs the fault-injection suite runs (`python -m ...`).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
