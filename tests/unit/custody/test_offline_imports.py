"""The offline verifiers run on an expert's machine with the standard library, `cryptography`
and `rfc3161-client` (for RFC 3161 timestamps, built on cryptography) alone: they import
nothing else, not even the rest of the portal."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import portal

ROOT = Path(portal.__file__).parent
OFFLINE = {
    "portal.custody.merkle",
    "portal.custody.note",
    "portal.custody.commitment",
    "portal.custody.offline",
    "portal.custody.receipt",
    "portal.custody.tsa",
    "portal.export.derivatives",
    "portal.export.members",
    "portal.export.proof",
    "portal.export.redacted",
    "portal.export.verify",
}
# Packages the modules above sit in: importing a module runs its package's (empty) __init__.
PACKAGES = {"portal", "portal.custody", "portal.export"}


def _imports(module: str) -> set[str]:
    path = ROOT.parent / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = f"{package}.{node.module}" if node.level else str(node.module)
            found.add(base)
    return found


def test_offline_modules_import_only_stdlib_cryptography_and_each_other() -> None:
    for module in sorted(OFFLINE):
        for name in _imports(module):
            top = name.split(".")[0]
            allowed = (
                top in sys.stdlib_module_names
                or top in ("cryptography", "rfc3161_client")
                or name in OFFLINE
            )
            assert allowed, f"{module} imports {name}"


def test_importing_them_loads_no_other_portal_module() -> None:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in sorted(OFFLINE))
        + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'portal')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT.parent
    )
    assert set(json.loads(out.stdout)) <= OFFLINE | PACKAGES
