"""Checks the staff page tests run on every page they open.

- `axe_violations(page)`: axe-core (npm, tests/system/package.json) injected into the page;
  the serious and critical violations it reports. The browser context must bypass the CSP
  (`bypass_csp=True`), which would rightly refuse an injected script.
- `visible_text(page)`: what a reader sees, raw events in closed <details> left out.
- `english_in(text)`: the app's English messages (from the catalogue) found in a Spanish page.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from portal.web.catalogue import CATALOGUE
from tests.support import REPO

AXE = REPO / "tests" / "system" / "node_modules" / "axe-core" / "axe.min.js"
HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")


def axe_violations(page: Any) -> list[str]:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: npm install --prefix tests/system")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def visible_text(page: Any) -> str:
    text: str = page.evaluate(
        """() => {
            const copy = document.body.cloneNode(true);
            copy.querySelectorAll('details, script, style').forEach((n) => n.remove());
            document.body.appendChild(copy);
            copy.hidden = false;
            const text = copy.innerText;
            copy.remove();
            return text;
        }"""
    )
    return text


@cache
def _english() -> list[tuple[str, re.Pattern[str]]]:
    """Catalogue messages whose English differs from their Spanish, as whole-word patterns."""
    out = []
    for key, entry in CATALOGUE.items():
        en, es = entry.get("en", ""), entry.get("es", "")
        if key.startswith("lang.") or en == es:
            continue
        for piece in re.split(r"\{[a-z_]+\}", en):
            piece = piece.strip(" .:,;()\u00b7\u2013-")
            if piece in es:  # the same word in both (supervisor / supervisor(a))
                continue
            if len(piece) >= 4 and re.search(r"[A-Za-z]{3}", piece):
                out.append((key, re.compile(r"(?<![\w-])" + re.escape(piece) + r"(?![\w-])")))
    return out


def english_in(text: str) -> list[str]:
    """`key: phrase` for each English catalogue phrase in `text`."""
    return [f"{key}: {p.pattern}" for key, p in _english() if p.search(text)]
