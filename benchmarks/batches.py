"""One generated Facebook batch through the fast path, for the phase-2 and semantic benchmarks: both time
their stage on the same cleaned texts that the pipeline stored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlds_assets.demo.exports import generate_facebook_csv
from mlds_assets.service.ingest import ingest
from mlds_assets.settings import Settings


def ingested_batch(settings: Settings, work: Path, rows: int, instance) -> tuple[str, list[str]]:
    """(batch id, its cleaned texts) after `rows` generated posts went through the fast path."""
    export = generate_facebook_csv(work / f"facebook_{rows}.csv", rows, dirty=False)
    batch = ingest(settings, export.path, "facebook", instance)["batch"]
    texts = pd.read_parquet(Path(settings.lake_base) / "facebook" / "cleaned_posts" / f"{batch}.parquet")
    return batch, texts["clean_text"].fillna("").tolist()
