"""docs/settings.md holds the settings table exactly as generated from portal.config."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from portal.config import Settings
from tests.support import REPO

DOCS = REPO / "docs"


def load_generator() -> ModuleType:
    # docs/ is no package: load the generator from its file, as `python docs/...` runs it.
    spec = importlib.util.spec_from_file_location("gen_settings", DOCS / "gen_settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_table_is_generated_from_the_code() -> None:
    gen = load_generator()
    current = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert gen.render(current) == current, (
        f"docs/settings.md differs from portal/config/; regenerate it with `{gen.COMMAND}`"
    )


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == [], "settings without a description in portal/config/"
