"""The README's reference tables stay true to the code they describe."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from mlds_assets.core.schema import POST_COLUMNS, QUARANTINE_COLUMNS
from mlds_assets.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_canonical_column_is_documented():
    missing = [c for c in [*POST_COLUMNS, *QUARANTINE_COLUMNS] if f"`{c}`" not in README and c not in README]
    assert not missing


def test_every_global_setting_is_documented():
    sections = [name for name, field in Settings.model_fields.items() if isinstance(field.default, BaseModel)]
    keys = []
    for section in sections:
        for name, value in type(getattr(Settings(), section)).model_fields.items():
            nested = isinstance(value.default, BaseModel)  # documented as a group: `store.weaviate.*`
            keys.append(f"{section}.{name}.*" if nested else f"{section}.{name}")
    assert [k for k in keys if f"`{k}`" not in README] == []


def test_readme_opens_with_the_two_commands():
    head = README[:600]
    assert "make demo" in head and "make test" in head
