"""map_batch: typed canonical posts, and every row that fails in quarantine with all its reasons."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlds_assets.core import ids
from mlds_assets.core.mapping import MappedBatch, MappingError, map_batch
from mlds_assets.core.readers import SOURCE_ROW, ReadResult
from mlds_assets.core.schema import POST_COLUMNS, QUARANTINE_COLUMNS
from mlds_assets.settings import IngestionSettings, PlatformConfig

NOW = pd.Timestamp("2024-06-01T12:00:00Z")
LIMITS = IngestionSettings(max_text_length=40, earliest_created_at="2000-01-01", future_tolerance_hours=24)
COLUMNS = ("id", "body", "user", "when", "reply_to", "link", "likes", "comments", "shares", "views")

BASE = {
    "name": "demo",
    "fields": {
        "native_id": "id", "text": "body", "author": "user", "created_at": "when", "parent_id": "reply_to",
        "url": "link", "likes": "likes", "comments": "comments", "shares": "shares", "views": "views",
    },
    "created_at": {"format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"},
}  # fmt: skip
PLATFORM = PlatformConfig.model_validate(BASE)


def platform_with(**overrides) -> PlatformConfig:
    return PlatformConfig.model_validate({**BASE, **overrides})


def created_at(fmt: str = "%Y-%m-%d %H:%M:%S", tz: str = "UTC") -> PlatformConfig:
    return platform_with(created_at={"format": fmt, "timezone": tz})


def make_read(rows: list[dict], columns: tuple[str, ...] = COLUMNS, bad: list[tuple] = ()) -> ReadResult:
    """What a reader returns: every value text ('' for missing), plus the 1-based record number."""
    records = pd.DataFrame([{c: row.get(c, "") for c in columns} for row in rows], columns=list(columns), dtype=object)
    records[SOURCE_ROW] = range(1, len(rows) + 1)
    bad_rows = pd.DataFrame(list(bad), columns=[SOURCE_ROW, "reason", "raw_record"]).astype({SOURCE_ROW: "int64"})
    return ReadResult(records, bad_rows, len(rows) + len(bad_rows))


def good(native_id: str = "1", **overrides: str) -> dict:
    row = {"id": native_id, "body": f"post number {native_id}", "user": "alice", "when": "2024-01-02 03:04:05"}
    row.update(overrides)
    return row


def run(read: ReadResult, platform: PlatformConfig = PLATFORM, limits: IngestionSettings = LIMITS) -> MappedBatch:
    batch = map_batch(read, platform, "batch-1", "export.csv", limits, now=NOW)
    assert len(batch.posts) + len(batch.quarantine) == batch.rows_in == read.rows_in  # the ledger, every time
    assert list(batch.posts.columns) == list(POST_COLUMNS)
    assert list(batch.quarantine.columns) == list(QUARANTINE_COLUMNS)
    return batch


def only_quarantined(batch: MappedBatch) -> pd.Series:
    assert len(batch.quarantine) == 1, batch.quarantine[["source_row", "reason"]]
    return batch.quarantine.iloc[0]


# --- kept rows --------------------------------------------------------------------------------------


def test_good_row_is_typed_and_identified():
    row = good("42", link="https://x.test/42", likes="1,094", comments="3.0", shares="0", views="")
    batch = run(make_read([row]))
    assert batch.quarantine.empty
    post = batch.posts.iloc[0]
    assert post["post_id"] == ids.post_id("demo", "42")
    assert post["platform"] == "demo" and post["batch_id"] == "batch-1" and post["source_file"] == "export.csv"
    assert post["native_id"] == "42" and post["source_row"] == 1
    assert post["text"] == "post number 42" and post["author"] == "alice"
    assert post["created_at"] == pd.Timestamp("2024-01-02T03:04:05Z")
    assert (post["likes"], post["comments"], post["shares"]) == (1094, 3, 0)
    assert pd.isna(post["views"])
    assert pd.isna(post["parent_id"]) and pd.isna(post["parent_post_id"])
    assert post["url"] == "https://x.test/42"
    assert json.loads(post["raw_record"])["likes"] == "1,094"
    assert post["ingested_at"] == NOW
    assert str(batch.posts["created_at"].dtype) == "datetime64[ns, UTC]"
    assert str(batch.posts["likes"].dtype) == "Int64"


def test_float_ids_are_normalised_and_replies_point_at_parent():
    batch = run(make_read([good("3.0"), good("4", reply_to="3.0"), good("5", reply_to="999")]))
    assert batch.posts["native_id"].tolist() == ["3", "4", "5"]
    assert batch.posts["post_id"].tolist() == [ids.post_id("demo", n) for n in ("3", "4", "5")]
    assert pd.isna(batch.posts["parent_id"].iloc[0]) and pd.isna(batch.posts["parent_post_id"].iloc[0])
    assert batch.posts["parent_id"].tolist()[1:] == ["3", "999"]
    assert batch.posts["parent_post_id"].iloc[1] == batch.posts["post_id"].iloc[0]
    assert batch.posts["parent_post_id"].iloc[2] == ids.post_id("demo", "999")  # parent not in this batch


def test_float_normalisation_leaves_other_ids_alone():
    batch = run(make_read([good("3.5"), good("00.0"), good("1e3")]))
    assert batch.posts["native_id"].tolist() == ["3.5", "00", "1e3"]


def test_scientific_ids_are_whole_numbers_and_lossy_ones_are_quarantined():
    rows = [good("9.007199254740992e+15"), good("1.5E+3"), good("1.2345678901234568e+18"), good("5e3"), good("1e+18")]
    batch = run(make_read(rows))
    assert batch.posts["native_id"].tolist() == ["9007199254740992", "1500", "5e3"]  # 2**53: still exact
    assert batch.quarantine["source_row"].tolist() == [3, 5]  # beyond 2**53 a float may have lost digits
    assert batch.quarantine["field"].tolist() == ["native_id", "native_id"]
    reason = batch.quarantine["reason"][0]
    assert "native_id: '1.2345678901234568e+18' is a floating-point number beyond 2**53" in reason


def test_text_of_only_invisible_characters_is_missing_like_only_spaces():
    rows = [good("1", body="\u00a0\u00a0"), good("2", body="\u200b\u200d"), good("3", body="\u202e "), good("4")]
    batch = run(make_read(rows))
    assert batch.posts["native_id"].tolist() == ["4"]
    assert batch.quarantine["field"].tolist() == ["text"] * 3  # one rule for NBSP, zero-width and bidi-only text


def test_the_largest_int64_count_is_valid_and_exact():
    rows = [good("1", likes="9223372036854775807"), good("2", likes="9223372036854775808"),
            good("3", likes="9007199254740993")]  # fmt: skip
    batch = run(make_read(rows))
    assert batch.posts["likes"].tolist() == [2**63 - 1, 9007199254740993]  # exact, not through a float
    assert only_quarantined(batch)["field"] == "likes"


def test_sub_microsecond_timestamps_are_truncated_to_the_microsecond():
    batch = run(make_read([good("1", when="2024-01-02T03:04:05.123456789Z")]), created_at("iso"))
    assert batch.posts["created_at"].iloc[0] == pd.Timestamp("2024-01-02T03:04:05.123456Z")
    epoch = run(make_read([good("1", when="1700000000.1234567")]), created_at("epoch_s"))
    assert epoch.posts["created_at"].iloc[0] == pd.Timestamp("2023-11-14T22:13:20.123457Z")


def test_naive_times_take_the_configured_offset():
    batch = run(make_read([good("1", when="2015-11-04 00:25:00")]), created_at(tz="-05:00"))
    assert batch.posts["created_at"].iloc[0] == pd.Timestamp("2015-11-04T05:25:00Z")


def test_iana_timezone():
    batch = run(
        make_read([good("1", when="2024-01-15 12:00:00"), good("2", when="2023-07-15 12:00:00")]),
        created_at(tz="Europe/Berlin"),
    )
    assert batch.posts["created_at"].tolist() == [pd.Timestamp("2024-01-15T11:00Z"), pd.Timestamp("2023-07-15T10:00Z")]


def test_local_times_around_dst_changes_are_kept():
    # 02:30 happened twice on 2023-10-29 in Berlin (the first, summer-time one is taken) and not at all on
    # 2023-03-26 (shifted forward to 03:00): real posts either way, not unparseable dates.
    rows = [good("1", when="2023-10-29 02:30:00"), good("2", when="2023-03-26 02:30:00")]
    batch = run(make_read(rows), created_at(tz="Europe/Berlin"))
    assert batch.quarantine.empty, batch.quarantine["reason"].tolist()
    assert batch.posts["created_at"].tolist() == [pd.Timestamp("2023-10-29T00:30Z"), pd.Timestamp("2023-03-26T01:00Z")]


@pytest.mark.parametrize(
    ("fmt", "values", "expected"),
    [
        ("epoch_s", ["1700000000", "1700000000.5"], ["2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5Z"]),
        ("epoch_ms", ["1700000000123"], ["2023-11-14T22:13:20.123Z"]),
        (
            "iso",
            ["2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00.250000+0000"],
            ["2024-01-01T08:00:00Z", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00.25Z"],
        ),
        ("iso", ["2024-03-05"], ["2024-03-05T00:00:00Z"]),
    ],
)
def test_timestamp_formats(fmt, values, expected):
    batch = run(make_read([good(str(i), when=v) for i, v in enumerate(values)]), created_at(fmt))
    assert batch.quarantine.empty, batch.quarantine["reason"].tolist()
    assert batch.posts["created_at"].tolist() == [pd.Timestamp(e) for e in expected]


def test_iso_values_with_and_without_offsets_in_one_file():
    rows = [
        good("1", when="2024-01-01T10:00:00"),
        good("2", when="2024-01-01T10:00:00+01:00"),
        good("3", when="2024-01-01T10:00:00Z"),
    ]
    batch = run(make_read(rows), created_at("iso", tz="-05:00"))
    assert batch.posts["created_at"].tolist() == [
        pd.Timestamp("2024-01-01T15:00Z"),  # naive: the configured zone
        pd.Timestamp("2024-01-01T09:00Z"),  # offsets: honoured
        pd.Timestamp("2024-01-01T10:00Z"),
    ]


def test_multi_column_text_is_joined_with_newlines_skipping_empty_parts():
    platform = platform_with(fields={**BASE["fields"], "text": ["body", "link"], "url": None})
    rows = [good("1", body="hello", link="world"), good("2", body="", link="only link"), good("3", body="only body")]
    batch = run(make_read(rows), platform)
    assert batch.posts["text"].tolist() == ["hello\nworld", "only link", "only body"]


def test_text_is_stripped():
    batch = run(make_read([good("1", body="  padded \n")]))
    assert batch.posts["text"].iloc[0] == "padded"


def test_label_columns_become_a_json_object():
    platform = platform_with(labels=[{"column": "user"}, {"column": "link", "known_only": True}])
    batch = run(make_read([good("1", user="AppleSupport", link="Nike"), good("2", user=" bob ", link="")]), platform)
    assert [json.loads(v) for v in batch.posts["labels"]] == [{"user": "AppleSupport", "link": "Nike"}, {"user": "bob"}]


def test_labels_empty_object_without_label_columns():
    assert run(make_read([good("1")])).posts["labels"].tolist() == ["{}"]


# --- quarantined rows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "fragments"),
    [
        ({"body": ""}, "text", ["missing required field text", "body"]),
        ({"body": "   "}, "text", ["missing required field text"]),
        ({"id": ""}, "native_id", ["missing required field native_id", "id"]),
        ({"when": ""}, "created_at", ["missing required field created_at", "when"]),
        ({"when": "yesterday"}, "created_at", ["created_at", "'yesterday'", "%Y-%m-%d %H:%M:%S"]),
        ({"when": "2024-02-30 00:00:00"}, "created_at", ["created_at", "'2024-02-30 00:00:00'"]),
        ({"likes": "-3"}, "likes", ["likes", "'-3'", "non-negative"]),
        ({"comments": "lots"}, "comments", ["comments", "'lots'"]),
        ({"shares": "2.5"}, "shares", ["shares", "'2.5'"]),
        ({"views": "99999999999999999999"}, "views", ["views", "'99999999999999999999'"]),
        ({"when": "2024-06-03 00:00:00"}, "created_at", ["created_at", "'2024-06-03 00:00:00'", "future"]),
        (
            {"when": "1999-12-31 23:59:59"},
            "created_at",
            ["created_at", "'1999-12-31 23:59:59'", "earliest", "2000-01-01"],
        ),
        ({"body": "x" * 41}, "text", ["text", "41", "max_text_length 40"]),
    ],
)
def test_bad_row_is_quarantined_with_field_and_reason(overrides, field, fragments):
    rows = [good("1"), good("2", **overrides), good("3")]
    batch = run(make_read(rows))
    assert batch.posts["native_id"].tolist() == ["1", "3"]
    bad = only_quarantined(batch)
    assert bad["field"] == field
    assert bad["source_row"] == 2
    for fragment in fragments:
        assert fragment in bad["reason"], (fragment, bad["reason"])
    assert json.loads(bad["raw_record"]) == {c: rows[1].get(c, "") for c in COLUMNS}
    assert bad["platform"] == "demo" and bad["batch_id"] == "batch-1" and bad["source_file"] == "export.csv"
    assert bad["quarantined_at"] == NOW


def test_limits_are_inclusive_where_they_should_be():
    rows = [good("1", body="x" * 40), good("2", when="2024-06-02 12:00:00"), good("3", when="2000-01-01 00:00:00")]
    batch = run(make_read(rows))
    assert batch.quarantine.empty, batch.quarantine["reason"].tolist()


def test_duplicate_native_id_points_at_the_first_row():
    batch = run(make_read([good("7"), good("8"), good("7", body="again"), good("7.0", body="and again")]))
    assert batch.posts["native_id"].tolist() == ["7", "8"]
    assert batch.posts["text"].iloc[0] == "post number 7"  # the first one is kept
    assert batch.quarantine["source_row"].tolist() == [3, 4]
    assert batch.quarantine["field"].tolist() == ["native_id", "native_id"]
    assert batch.quarantine["reason"].tolist() == ["native_id: duplicate of row 1"] * 2


def test_duplicate_of_a_quarantined_row_is_kept():
    batch = run(make_read([good("7", when="garbage"), good("7")]))
    assert batch.posts["source_row"].tolist() == [2]
    assert batch.quarantine["source_row"].tolist() == [1]


def test_every_reason_on_a_row_is_listed():
    batch = run(make_read([good("1", body="", when="not a date", likes="-1", comments="many")]))
    bad = only_quarantined(batch)
    assert bad["field"] == "text"  # the first canonical field that failed
    reasons = bad["reason"].split("; ")
    assert len(reasons) == 4, reasons
    assert reasons[0].startswith("missing required field text")
    assert any("'not a date'" in r for r in reasons)
    assert any(r.startswith("likes: '-1'") for r in reasons)
    assert any(r.startswith("comments: 'many'") for r in reasons)
    assert batch.posts.empty


def test_reader_bad_rows_join_the_quarantine_in_row_order():
    bad = [(2, "row 2: expected 10 fields, found 11", '["x"]')]
    read = make_read([good("1"), good("3")], bad=bad)
    read.records[SOURCE_ROW] = [1, 3]
    batch = run(read)
    assert batch.posts["source_row"].tolist() == [1, 3]
    row = only_quarantined(batch)
    assert (row["source_row"], row["field"], row["raw_record"]) == (2, "record", '["x"]')
    assert "expected 10 fields" in row["reason"]


def test_missing_required_column_raises_naming_the_column():
    read = make_read([good("1")], columns=("id", "user", "when"))
    with pytest.raises(MappingError) as err:
        map_batch(read, PLATFORM, "b", "export.csv", LIMITS, now=NOW)
    assert "body" in str(err.value) and "'text'" in str(err.value) and "export.csv" in str(err.value)


def test_missing_optional_column_is_a_warning():
    batch = run(make_read([good("1")], columns=("id", "body", "user", "when")))
    assert len(batch.posts) == 1
    assert any("likes" in w and "optional" in w for w in batch.warnings)
    assert pd.isna(batch.posts["likes"].iloc[0])


def test_empty_export_maps_to_empty_frames():
    batch = run(make_read([]))
    assert batch.posts.empty and batch.quarantine.empty and batch.rows_in == 0


def test_export_without_native_id_derives_ids_from_content():
    platform = PlatformConfig(name="noid", fields={"text": "body", "created_at": "when"})
    columns = ("body", "when")
    rows = [
        {"body": "same", "when": "2024-01-01T00:00:00Z"},
        {"body": "other", "when": "2024-01-01T00:00:00Z"},
        {"body": "same", "when": "2024-01-01T00:00:00Z"},
        {"body": "same", "when": "2024-01-02T00:00:00Z"},
    ]
    batch = run(make_read(rows, columns=columns), platform)
    assert batch.posts["source_row"].tolist() == [1, 2, 4]
    assert all(n.startswith("sha1:") for n in batch.posts["native_id"])
    assert batch.posts["native_id"].nunique() == 3
    assert batch.posts["post_id"].tolist() == [ids.post_id("noid", n) for n in batch.posts["native_id"]]
    row = only_quarantined(batch)
    assert (row["source_row"], row["field"], row["reason"]) == (3, "native_id", "native_id: duplicate of row 1")
    again = run(make_read(rows, columns=columns), platform)  # the same content gives the same ids
    assert again.posts["post_id"].tolist() == batch.posts["post_id"].tolist()


# --- property: the ledger holds for any input ---------------------------------------------------------

_garbage = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_dates = st.one_of(
    st.datetimes(
        min_value=pd.Timestamp("1980-01-01").to_pydatetime(), max_value=pd.Timestamp("2030-01-01").to_pydatetime()
    ).map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.integers(-(10**20), 10**20).map(str),
    st.floats().map(str),
    _garbage,
    st.just(""),
)
_counts = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["", "1,000", "3.0", "2.5", "nan", "inf", "lots"]),
    _garbage,
)
_rows = st.fixed_dictionaries(
    {
        "id": st.one_of(st.sampled_from(["1", "2", "2.0", "3", ""]), st.integers(0, 10**6).map(str), _garbage),
        "body": st.one_of(st.just(""), _garbage, st.text(min_size=35, max_size=50)),
        "user": _garbage,
        "when": _dates,
        "reply_to": st.one_of(st.just(""), st.sampled_from(["1", "2.0"])),
        "likes": _counts,
        "comments": _counts,
        "views": _counts,
    }
)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_rows, max_size=25), st.sampled_from(["%Y-%m-%d %H:%M:%S", "iso", "epoch_s", "epoch_ms"]))
def test_every_row_is_kept_or_quarantined_exactly_once(rows, fmt):
    batch = run(make_read(rows), created_at(fmt, tz="America/New_York"))
    kept, quarantined = set(batch.posts["source_row"]), set(batch.quarantine["source_row"])
    assert not kept & quarantined
    assert kept | quarantined == set(range(1, len(rows) + 1))
    assert len(kept) == len(batch.posts) and len(quarantined) == len(batch.quarantine)
    assert batch.posts["post_id"].is_unique
    assert batch.quarantine["reason"].str.len().gt(0).all()
    assert batch.quarantine["field"].notna().all()
    assert (batch.posts["text"].str.len() > 0).all()
    for column in ("likes", "comments", "views"):
        assert (batch.posts[column].dropna() >= 0).all()


def test_post_ids_in_bulk_equal_uuid5_in_order():
    """The batch ids come from one DuckDB pass over Arrow; each must equal post_id() (Weaviate's uuid5)
    and stay in input order across DuckDB's parallel chunks."""
    natives = [str(i) for i in range(300_000)] + ["caf\u00e9 \U0001f600", "", "a b", None]
    got = ids.post_ids("demo", natives).to_pylist()
    assert len(got) == len(natives)
    assert got[-1] is None
    for i in [*range(0, 300_000, 997), *range(300_000, len(natives) - 1)]:
        assert got[i] == ids.post_id("demo", natives[i]), i
