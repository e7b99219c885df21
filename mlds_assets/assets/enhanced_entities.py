"""Phase 2: enhanced_entities per lane and batch: spaCy NER plus the dictionary's entity ruler, on the
platform's `schedules.entities` (or right after phase 1 in `full` mode). Pending posts only, in the same
checkpointed chunks as sentiment, so a killed run resumes."""

from functools import cache

import pandas as pd
from dagster import AssetExecutionContext

from mlds_assets.assets.metadata import counts_table, preview
from mlds_assets.assets.phase2_factory import Loaded, Phase2Stage
from mlds_assets.core.checkpoints import ChunkedRun
from mlds_assets.core.enhanced_entities import entities_per_post, extract_enhanced_entities, flatten, load_ner
from mlds_assets.core.enhanced_entities import model_version as ner_version
from mlds_assets.core.entities import EntityDictionary
from mlds_assets.settings import Settings

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


def enhanced_entities_stage(settings: Settings) -> Phase2Stage:
    enhanced = settings.entities.enhanced

    def load(context: AssetExecutionContext) -> Loaded:
        nlp, version = configured_pipeline(settings)

        def work(rows: pd.DataFrame) -> pd.DataFrame:
            found = extract_enhanced_entities(
                rows, nlp, version, enhanced.batch_size, enhanced.n_process, enhanced.labels,
                enhanced.ruler_confidence, enhanced.ner_confidence,
            )  # fmt: skip
            return entities_per_post(rows, found, version, context.run_id)

        return Loaded(version, work)

    def metadata(run: ChunkedRun, cleaned_posts: pd.DataFrame, loaded: Loaded) -> dict:
        flat = flatten(run.results)
        none = pd.Series(dtype="int64")
        return {
            "entities": len(flat),
            "posts_with_entity": int(flat["post_id"].nunique()) if len(flat) else 0,
            "by_method": counts_table(flat["method"].value_counts() if len(flat) else none, "method", "entities"),
            "by_label": counts_table(flat["label"].value_counts() if len(flat) else none, "label", "entities"),
            "preview": preview(flat, ["surface", "label", "method", "entity_id", "confidence"], rows=10),
        }

    return Phase2Stage(
        asset="enhanced_entities",
        stage="entities",
        done="processed",
        code_version=enhanced.model,
        kinds={"spacy", "parquet"},
        description=(
            f"entities from spaCy NER ({enhanced.model}, NER only) and an entity ruler built from the "
            "dictionary: one row per post with its entities (method, label, span, confidence, model version)."
        ),
        load=load,
        metadata=metadata,
        input_columns=tuple(ENHANCED_INPUT_COLUMNS),
    )
