"""Phase 2: enhanced_entities per lane and batch: spaCy NER plus the dictionary's entity ruler, on the
platform's `schedules.entities` (or right after phase 1 in `full` mode). Pending posts only, in the same
checkpointed chunks as sentiment, so a killed run resumes."""

from functools import cache

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Output, asset

from mlds_assets.assets.automation import POOL_MODELS, phase2_condition, phase2_freshness
from mlds_assets.assets.ingestion import Lane
from mlds_assets.assets.metadata import counts_table, preview
from mlds_assets.assets.pending import run_pending_chunks
from mlds_assets.core.enhanced_entities import entities_per_post, extract_enhanced_entities, flatten, load_ner
from mlds_assets.core.enhanced_entities import model_version as ner_version
from mlds_assets.core.entities import EntityDictionary
from mlds_assets.settings import PlatformConfig, Settings

ENHANCED_INPUT_COLUMNS = ["post_id", "clean_text"]


@cache
def _pipeline(model: str, dictionary: str):
    """One spaCy pipeline per model and dictionary per process (`mlds enrich` runs many batches)."""
    table = EntityDictionary.load(dictionary)
    nlp = load_ner(model, table)
    return nlp, ner_version(nlp, table)


def configured_pipeline(settings: Settings):
    """(the configured spaCy pipeline, its version), loaded once per process."""
    return _pipeline(settings.entities.enhanced.model, str(settings.entity_dictionary_path))


def build_enhanced_entities(lane: Lane, platform: PlatformConfig, settings: Settings) -> AssetsDefinition:
    name = lane.platform
    enhanced = settings.entities.enhanced

    @asset(
        key=[name, "enhanced_entities"],
        ins={"cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": ENHANCED_INPUT_COLUMNS})},
        partitions_def=lane.partitions,
        group_name=name,
        pool=POOL_MODELS,
        automation_condition=phase2_condition(platform, settings, "entities"),
        freshness_policy=phase2_freshness(platform, "entities"),
        code_version=enhanced.model,
        kinds={"spacy", "parquet"},
        description=(
            f"{name} entities from spaCy NER ({enhanced.model}, NER only) and an entity ruler built from the "
            "dictionary: one row per post with its entities (method, label, span, confidence, model version)."
        ),
    )
    def enhanced_entities(context: AssetExecutionContext, cleaned_posts: pd.DataFrame) -> Output[pd.DataFrame]:
        nlp, version = configured_pipeline(settings)

        def work(rows: pd.DataFrame) -> pd.DataFrame:
            found = extract_enhanced_entities(
                rows, nlp, version, enhanced.batch_size, enhanced.n_process, enhanced.labels,
                enhanced.ruler_confidence, enhanced.ner_confidence,
            )  # fmt: skip
            return entities_per_post(rows, found, version, context.run_id)

        run, rate = run_pending_chunks(
            context,
            settings,
            name,
            "enhanced_entities",
            cleaned_posts[ENHANCED_INPUT_COLUMNS],
            version,
            work,
            "entities",
        )
        flat = flatten(run.results)
        none = pd.Series(dtype="int64")
        return Output(
            run.results,
            metadata={
                "dagster/row_count": len(run.results),
                "entities": len(flat),
                "posts_with_entity": int(flat["post_id"].nunique()) if len(flat) else 0,
                "model_version": version,
                "processed_this_run": run.computed,
                "kept_from_last_run": run.reused,
                "resumed_from_checkpoint": run.resumed,
                "posts_per_second": rate,
                "by_method": counts_table(flat["method"].value_counts() if len(flat) else none, "method", "entities"),
                "by_label": counts_table(flat["label"].value_counts() if len(flat) else none, "label", "entities"),
                "preview": preview(flat, ["surface", "label", "method", "entity_id", "confidence"], rows=10),
            },
        )

    return enhanced_entities
