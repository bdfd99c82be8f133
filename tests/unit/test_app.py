"""What building the app loads: only what serving needs."""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO


def test_serving_does_not_load_the_court_bundle_writers() -> None:
    """fpdf2 and Pillow (the PDF report) cost every instance ~17 MiB of RSS; only an export
    needs them, so they load when one runs."""
    code = (
        "import sys; from portal.app import create_app; create_app(); "
        "print(sorted(m for m in ('fpdf', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
