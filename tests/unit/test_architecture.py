"""The shape of the code, checked like behaviour: one direction of imports, small modules and
functions, ruff and mypy clean. A change that breaks the shape fails here, in CI."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

BIN = Path(sys.executable).parent
PORTAL = REPO / "portal"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
# Data rather than logic: the schema migrations and the interface's translation catalogue.
DATA = ("portal/migrations/versions/", "portal/web/catalogue.py")


def _python_files() -> list[Path]:
    return sorted(p for p in PORTAL.rglob("*.py") if "__pycache__" not in p.parts)


def _is_data(path: Path) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return rel.startswith(DATA)


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_imports_run_one_way() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "back_import", "contract"),
    [
        # A domain service reaching up into a flow.
        ("portal/evidence/service.py", "import portal.flows.finalise", "One direction"),
        # The custody log reaching into a domain.
        ("portal/custody/service.py", "import portal.evidence.models", "The custody log"),
        # One domain's service calling another's.
        ("portal/cases/service.py", "import portal.retention.service", "A domain service"),
    ],
)
def test_a_back_import_breaks_the_contract(
    tmp_path: Path, module: str, back_import: str, contract: str
) -> None:
    """The contract is not vacuous: the same check fails on a copy with one import reversed."""
    shutil.copytree(PORTAL, tmp_path / "portal", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{back_import}  # noqa: E402\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout, result.stdout


def test_no_module_holds_several_ideas() -> None:
    too_long = {
        p.relative_to(REPO).as_posix(): n
        for p in _python_files()
        if not _is_data(p) and (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}, f"modules over {MAX_MODULE_LINES} lines: split them by idea"


def test_no_function_runs_on() -> None:
    too_long = []
    for path in _python_files():
        if _is_data(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} {lines}")
    assert too_long == [], f"functions over {MAX_FUNCTION_LINES} lines"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command: list[str]) -> None:
    """Includes complexity (C901, at most 15) and statement counts (PLR0915) in portal/."""
    result = subprocess.run(
        [str(BIN / "ruff"), *command, "--no-cache", "portal", "tests", "bench", "docs"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    """portal/ and tests/, strictly typed (pyproject's [tool.mypy])."""
    result = subprocess.run(
        [str(BIN / "mypy")], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
