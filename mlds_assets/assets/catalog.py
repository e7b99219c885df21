"""What a Dagster user looks for on an asset in the UI, given to every asset in one place when the code
location is built: the column schema of each table asset (`dagster/column_schema`, from the canonical column
lists in `core/schema.py`), owners (`owners` in global.yaml, or a platform YAML's own), tags to filter by
(`phase`, `scope`) and a reference to the code that defines the asset: the local file and line, or, where
MLDS_CODE_URL names the repository (https://github.com/<org>/<repo>), a link into it at MLDS_CODE_BRANCH
(default main), as a deployment wants."""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from dagster import (
    AnchorBasedFilePathMapping,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    TableColumn,
    TableSchema,
    link_code_references_to_git,
    with_source_code_references,
)

from mlds_assets.core.schema import TABLE_SCHEMAS
from mlds_assets.settings import Settings

COLUMN_SCHEMA = "dagster/column_schema"

# The phase of each asset (by its name within its group): a tag, so `tag:phase=enrichment` selects a phase.
PHASES = {
    **dict.fromkeys(
        ("raw_posts", "quarantine", "cleaned_posts", "conservative_entities", "basic_metrics", "post_collection"),
        "ingestion",
    ),
    **dict.fromkeys(
        ("sentiment_scores", "enhanced_entities", "post_embeddings", "topics", "topic_assignments"), "enrichment"
    ),
    **dict.fromkeys(("resolved_entities", "entity_mentions", "entity_review_queue", "store_resync"), "resolution"),
    **dict.fromkeys(("platform_metrics", "cross_platform_metrics", "reports"), "analytics"),
}


def column_schema(columns: dict[str, tuple[str, str]]) -> TableSchema:
    return TableSchema(
        columns=[TableColumn(name, dtype, description=doc or None) for name, (dtype, doc) in columns.items()]
    )


def table_schema(key: AssetKey) -> TableSchema | None:
    """The column schema of a table asset; None for an asset whose value is not a lake table (the post store,
    the reports)."""
    columns = TABLE_SCHEMAS.get(key.path[-1])
    return column_schema(columns) if columns is not None else None


def with_code_references(assets: Sequence[AssetsDefinition], env: Mapping[str, str]) -> list[AssetsDefinition]:
    referenced = with_source_code_references(assets)
    url = env.get("MLDS_CODE_URL")
    if url:
        package = Path(__file__).resolve().parent.parent  # mlds_assets/, at mlds_assets/ in the repository
        mapping = AnchorBasedFilePathMapping(local_file_anchor=package, file_anchor_path_in_repository="mlds_assets/")
        referenced = link_code_references_to_git(referenced, url, env.get("MLDS_CODE_BRANCH", "main"), mapping)
    return list(referenced)


def with_catalog(
    assets: Sequence[AssetsDefinition], settings: Settings, env: Mapping[str, str] | None = None
) -> list[AssetsDefinition]:
    """The assets with their column schema, owners, tags and code references (definition metadata: it shows in
    the UI before anything has run)."""

    def described(spec: AssetSpec) -> AssetSpec:
        scope, name = spec.key.path[0], spec.key.path[-1]
        schema = table_schema(spec.key)
        return spec.merge_attributes(
            metadata={COLUMN_SCHEMA: schema} if schema is not None else {},
            owners=list(settings.owners_for(scope)),
            tags={"phase": PHASES[name], "scope": scope},
        )

    described_assets = [asset.map_asset_specs(described) for asset in assets]
    return with_code_references(described_assets, os.environ if env is None else env)
