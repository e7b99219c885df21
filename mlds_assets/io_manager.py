"""Parquet lake: one file per asset partition, on a local folder or any fsspec URL (s3://, gs://, ...)."""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pyarrow.parquet as pq
from dagster import ConfigurableIOManagerFactory, InputContext, OutputContext, UPathIOManager
from upath import UPath

from mlds_assets.core.lake_sql import LOCAL
from mlds_assets.core.parquet_frames import arrow_to_frame, frame_to_arrow
from mlds_assets.launch_settings import RUN_TAG, refuse_other_settings


class ParquetIOManager(UPathIOManager):
    extension = ".parquet"

    def dump_to_path(self, context: OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        table = frame_to_arrow(obj)
        if path.protocol in LOCAL:
            # Readers never see a half-written file: write beside it, then rename over it.
            local = str(path.path) if hasattr(path, "path") else str(path)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            tmp = os.path.join(os.path.dirname(local), f".{os.path.basename(local)}.{uuid.uuid4().hex}.tmp")
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, local)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        else:  # object stores publish a PUT atomically
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                pq.write_table(table, handle)
        context.add_output_metadata({"lake_path": str(path)})

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame:
        # `AssetIn(metadata={"columns": [...]})` reads only those columns: downstream assets that need a
        # few columns of a wide frame skip the rest (the raw record, the text, list columns).
        columns = (context.definition_metadata or {}).get("columns")
        with path.open("rb") as handle:
            table = pq.read_table(handle, columns=list(columns) if columns else None)
        return arrow_to_frame(table)


class LakeIOManager(ConfigurableIOManagerFactory):
    """The lake's base path: `<MLDS_HOME>/lake` by default, `lake_path` in global.yaml to move it."""

    base_path: str

    def create_io_manager(self, context) -> ParquetIOManager:
        # every asset of a run writes through here before anything else: the place to refuse a run that
        # `mlds` launched with other settings than this run worker's (mlds_assets.launch_settings)
        tag = context.run.tags.get(RUN_TAG) if context.run is not None else None
        if tag:
            refuse_other_settings(tag)
        return ParquetIOManager(base_path=UPath(self.base_path))
