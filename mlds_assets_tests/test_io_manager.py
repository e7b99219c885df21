"""The lake's Parquet files: Arrow list columns survive the IO manager and stay readable by plain pandas."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from dagster import build_input_context, build_output_context
from upath import UPath

from mlds_assets.io_manager import ParquetIOManager

LIST = pd.ArrowDtype(pa.list_(pa.string()))


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": pd.array(["a", "b"], dtype="string"),
            "hashtags": pd.Series([["nike", "run"], []], dtype=LIST),
            "likes": pd.array([3, None], dtype="Int64"),
        }
    )


def test_list_columns_round_trip_and_plain_pandas_can_read_the_file(tmp_path):
    manager = ParquetIOManager(base_path=UPath(tmp_path))
    path = UPath(tmp_path) / "posts.parquet"
    manager.dump_to_path(build_output_context(), frame(), path)

    back = manager.load_from_path(build_input_context(), path)
    assert back["hashtags"].dtype == LIST
    assert back["hashtags"].tolist() == [["nike", "run"], []]
    assert back["likes"].dtype == "Int64"  # nullable integers keep their missing values

    plain = pd.read_parquet(path)  # what an analyst does with the lake
    assert [list(tags) for tags in plain["hashtags"]] == [["nike", "run"], []]


def test_column_projection_reads_only_what_is_asked(tmp_path):
    manager = ParquetIOManager(base_path=UPath(tmp_path))
    path = UPath(tmp_path) / "posts.parquet"
    manager.dump_to_path(build_output_context(), frame(), path)
    back = manager.load_from_path(build_input_context(definition_metadata={"columns": ["post_id"]}), path)
    assert back.columns.tolist() == ["post_id"]
