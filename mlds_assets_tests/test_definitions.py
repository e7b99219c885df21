"""The code location's graph as a committed snapshot, so an unintended change shows in review.

After an intended change to assets, checks, jobs, sensors, automation or column schemas, regenerate it:

    MLDS_UPDATE_SNAPSHOT=1 python -m pytest mlds_assets_tests/test_definitions.py

and commit mlds_assets_tests/snapshots/definitions.json with the change.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from dagster import AssetKey

from mlds_assets.assets.catalog import COLUMN_SCHEMA
from mlds_assets.definitions import build_definitions
from mlds_assets_tests.definitions_snapshot import SNAPSHOT, UPDATE_ENV, compare


def test_definitions_match_the_committed_snapshot(settings):
    diff = compare(build_definitions(settings))
    assert diff is None, (
        f"the definitions differ from {SNAPSHOT.name}; if intended, rerun with {UPDATE_ENV}=1 and commit it:\n{diff}"
    )


def test_every_table_asset_declares_the_columns_it_writes(demo_settings):
    """Through the definitions: each table asset's `dagster/column_schema` (definition metadata, so the UI shows
    it before any run) names exactly the columns, in order, of what the asset wrote to the lake in the demo
    (every phase, through Dagster runs); the assets that write no table (the post store, the reports) have none."""
    lake = Path(demo_settings.lake_base)
    graph = build_definitions(demo_settings).resolve_asset_graph()
    declared, written = {}, {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        schema = node.metadata.get(COLUMN_SCHEMA)
        if schema is not None:
            declared[key] = [column.name for column in schema.columns]
        folder = lake.joinpath(*key.path)
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else [folder.with_suffix(".parquet")]
        files = [f for f in files if f.is_file()]
        if files:
            written[key] = {tuple(pq.read_schema(f).names) for f in files}
    assert written, "the demo wrote no table"
    assert set(written) <= set(declared), f"tables without a column schema: {sorted(set(written) - set(declared))}"
    wrong = {
        key.to_user_string(): {"declared": declared[key], "written": [list(names) for names in columns]}
        for key, columns in written.items()
        if columns != {tuple(declared[key])}
    }
    assert not wrong, wrong
    # every declared schema was held to a real table at least once (a platform's own or the cross-platform one)
    names = {key.path[-1] for key in written}
    assert {key.path[-1] for key in declared} <= names, sorted({k.path[-1] for k in declared} - names)
    assert {"post_collection", "reports"} == {key.path[-1] for key in graph.get_all_asset_keys()} - {
        key.path[-1] for key in declared
    }


def test_code_references_point_at_the_files_or_into_the_repository_when_its_url_is_set(settings, monkeypatch):
    def references(defs) -> list:
        node = defs.resolve_asset_graph().get(AssetKey(["facebook", "sentiment_scores"]))
        return node.metadata["dagster/code_references"].code_references

    monkeypatch.delenv("MLDS_CODE_URL", raising=False)
    stage, factory = references(build_definitions(settings))
    assert stage.file_path.endswith("mlds_assets/assets/sentiment.py") and stage.label == "sentiment stage"
    assert factory.file_path.endswith("mlds_assets/assets/phase2_factory.py")

    monkeypatch.setenv("MLDS_CODE_URL", "https://github.com/acme/mlds")
    monkeypatch.setenv("MLDS_CODE_BRANCH", "release")
    urls = [reference.url for reference in references(build_definitions(settings))]
    assert urls[0].startswith("https://github.com/acme/mlds/tree/release/mlds_assets/assets/sentiment.py#L")
