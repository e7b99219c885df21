"""The bad-input corpus, end to end through `mlds ingest` (Dagster, a real instance): every file gets a
clear error naming the file (and row or field where there is one), or quarantine rows with their reasons;
whatever is read, rows in = rows kept + rows quarantined. Files are generated here; the quirky real files
in ../shared/data are in test_shared_data.py."""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from mlds_assets.service.ingest import ingest
from mlds_assets.service.status import status
from mlds_assets.settings import load_settings
from mlds_assets_tests.conftest import write_platform

CORPUS_PLATFORM = """
name: corpus
formats: [csv, json, jsonl, xlsx, parquet]
fields: {native_id: id, text: text, created_at: created_at, likes: likes}
"""
HEADER = "id,text,created_at,likes\n"
GOOD = "1,first post,2024-01-01T10:00:00Z,5\n2,second post,2024-01-02T10:00:00Z,7\n"
LATIN1_ROW = "3,caf\xe9 cr\xe8me,2024-01-03T10:00:00Z,1\n".encode("latin-1")  # in an otherwise UTF-8 file
UNBALANCED = '1,"never closed,2024-01-01T10:00:00Z,5\n2,b,2024-01-02T10:00:00Z,1\n'
DUPLICATE = "1,first again,2024-01-03T10:00:00Z,1\n"


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    content: bytes
    kept: int | None = None  # rows kept (None: the run must fail with `error`)
    quarantined: int = 0
    reasons: tuple[str, ...] = ()  # fragments the quarantine reasons must contain
    error: str = ""  # fragment of the run's error


def _xlsx_bytes() -> bytes:
    frame = pd.DataFrame({"id": ["1", "2"], "text": ["a", "b"], "created_at": ["2024-01-01", "2024-01-02"]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


def _two_sheet_xlsx_bytes() -> bytes:
    def sheet(ids: range) -> pd.DataFrame:
        return pd.DataFrame({"id": [str(i) for i in ids], "text": "t", "created_at": "2024-01-01", "likes": "1"})

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as writer:
        sheet(range(1, 4)).to_excel(writer, sheet_name="first", index=False)
        sheet(range(4, 8)).to_excel(writer, sheet_name="second", index=False)
    return buffer.getvalue()


CASES = [
    Case("empty file", "empty.csv", b"", error="empty.csv"),
    Case("header only", "header.csv", HEADER.encode(), kept=0),
    Case("truncated last line", "truncated.csv", (HEADER + GOOD + "3,cut off in the mid").encode(),
         kept=2, quarantined=1, reasons=("created_at",)),
    Case("wrong delimiter", "semicolons.csv", HEADER.replace(",", ";").encode() + GOOD.replace(",", ";").encode(),
         error="text"),
    Case("mixed encodings", "mixed.csv", (HEADER + GOOD).encode() + LATIN1_ROW, kept=3),
    Case("UTF-8 BOM", "bom.csv", b"\xef\xbb\xbf" + (HEADER + GOOD).encode(), kept=2),
    Case("CR-only line endings", "cr.csv", (HEADER + GOOD).replace("\n", "\r").encode(), kept=2),
    Case("CRLF line endings", "crlf.csv", (HEADER + GOOD).replace("\n", "\r\n").encode(), kept=2),
    Case("a 10 MB text field", "huge.csv", (HEADER + GOOD + f"3,{'x' * 10_000_000},2024-01-03T10:00:00Z,1\n").encode(),
         kept=2, quarantined=1, reasons=("text",)),
    Case("unbalanced quotes", "quotes.csv", (HEADER + UNBALANCED).encode(), error="quotes.csv"),
    Case("JSON with trailing garbage", "garbage.json",
         json.dumps([{"id": "1", "text": "a", "created_at": "2024-01-01T00:00:00Z"}]).encode() + b"\n}}oops",
         error="garbage.json"),
    Case("JSONL with one broken line", "broken.jsonl",
         b'{"id": "1", "text": "a", "created_at": "2024-01-01T00:00:00Z"}\n{"id": "2", "text": \n'
         b'{"id": "3", "text": "c", "created_at": "2024-01-03T00:00:00Z"}\n',
         kept=2, quarantined=1, reasons=("line 2",)),
    Case("wrong types", "types.csv", (HEADER + "1,a,2024-01-01T10:00:00Z,lots\n2,b,yesterday,3\n").encode(),
         kept=0, quarantined=2, reasons=("likes", "created_at")),
    Case("impossible and future dates", "dates.csv",
         (HEADER + "1,a,1850-01-01T00:00:00Z,1\n2,b,2199-01-01T00:00:00Z,1\n3,c,2024-01-01T00:00:00Z,1\n").encode(),
         kept=1, quarantined=2, reasons=("created_at",)),
    Case("duplicate ids within the file", "dupes.csv", (HEADER + GOOD + DUPLICATE).encode(),
         kept=2, quarantined=1, reasons=("duplicate",)),
    Case("missing required column", "nocreated.csv", b"id,text,likes\n1,a,3\n", error="created_at"),
    Case("extra columns", "extra.csv", b"id,text,created_at,likes,colour\n1,a,2024-01-01T10:00:00Z,3,red\n", kept=1),
    Case("a name with ../ and shell characters", "..;rm -rf $HOME`x`.csv", (HEADER + GOOD).encode(), kept=2),
    Case("an xlsx that is not one", "fake.xlsx", b"this is not a zip file", error="fake.xlsx"),
    Case("a real xlsx", "real.xlsx", _xlsx_bytes(), kept=2),
    Case("a parquet that is not one", "fake.parquet", b"PAR1 nope", error="fake.parquet"),
    # probes beyond the corpus (issue 15)
    Case("sub-microsecond created_at", "nanos.csv", (HEADER + "1,a,2024-01-01T10:00:00.123456789Z,1\n").encode(),
         kept=1),
    Case("UTF-16 with BOM", "utf16.csv", (HEADER + GOOD).encode("utf-16"), kept=2),
    Case("gzip named .csv", "packed.csv", gzip.compress((HEADER + GOOD).encode()), error="gzip-compressed"),
    Case("duplicate header names", "dupecols.csv", b"id,text,created_at,likes,id\n1,a,2024-01-01T10:00:00Z,3,9\n",
         kept=1),
    Case("JSON nested 1,000 levels", "deep.json",
         b'[{"id": "1", "text": "a", "created_at": "2024-01-01T00:00:00Z", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}]",
         error="deep.json: JSON nested too deeply"),
    Case("JSONL with one line nested 1,000 levels", "deep.jsonl",
         b'{"id": "1", "text": "a", "created_at": "2024-01-01T00:00:00Z"}\n'
         b'{"id": "2", "text": "b", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}\n"
         b'{"id": "3", "text": "c", "created_at": "2024-01-03T00:00:00Z"}\n',
         kept=2, quarantined=1, reasons=("line 2: JSON nested too deeply",)),
    Case("a header of 100,000 columns", "wide.csv", (",".join(f"c{i}" for i in range(100_000)) + "\n1\n").encode(),
         error="wide.csv: 100000 columns, more than ingestion.max_columns (10000)"),
    Case("a workbook of two sheets (3 + 4 rows)", "two.xlsx", _two_sheet_xlsx_bytes(), kept=7),
    Case("text of only NBSP, zero-width or bidi characters", "invisible.csv",
         (HEADER + "1,\u00a0\u00a0,2024-01-01T10:00:00Z,1\n2,\u200b\u200d,2024-01-01T10:00:00Z,1\n"
          "3,\u202e,2024-01-01T10:00:00Z,1\n4,ok,2024-01-01T10:00:00Z,1\n").encode(),
         kept=1, quarantined=3, reasons=("missing required field text",)),
    Case("the largest int64 count", "maxcount.csv",
         (HEADER + "1,a,2024-01-01T10:00:00Z,9223372036854775807\n").encode(), kept=1),
    Case("an id that a float rounded", "floatids.csv", (HEADER + "1.2345678901234568e+18,a,2024-01-01T10:00:00Z,1\n"
         "3.0,b,2024-01-02T10:00:00Z,1\n").encode(), kept=1, quarantined=1, reasons=("beyond 2**53",)),
    Case("a single line of 17 MB", "oneline.csv", b"x" * (17 << 20),
         error="oneline.csv: line 1 is 17.0 MB, longer than ingestion.max_record_mb (16.0 MB)"),
    Case("JSONL with one line of 17 MB", "longline.jsonl",
         b'{"id": "1", "text": "a", "created_at": "2024-01-01T00:00:00Z"}\n'
         b'{"id": "2", "text": "' + b"x" * (17 << 20) + b'"}\n',
         kept=1, quarantined=1, reasons=("line 2: 17.0 MB, longer than ingestion.max_record_mb (16.0 MB)",)),
]  # fmt: skip


@pytest.fixture
def corpus_settings(tmp_path, config_dir):
    write_platform(config_dir, "corpus", CORPUS_PLATFORM)
    # The corpus files are tiny and mostly bad on purpose: the quarantine-rate gate (tested on its own)
    # would stop most of them at the gate; here every row must be accounted for, kept or quarantined.
    env = {"MLDS_HOME": str(tmp_path / "home"), "MLDS__INGESTION__MAX_QUARANTINE_RATE": "1"}
    return load_settings(config_dir, env=env)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_clear_error_or_quarantine_and_nothing_is_lost(case, corpus_settings, instance, tmp_path):
    path = tmp_path / "drop" / case.file.replace("/", "_")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(case.content)
    outcome = ingest(corpus_settings, path, "corpus", instance)

    if case.kept is None:
        assert outcome["status"] == "failed", outcome
        errors = " ".join(outcome["errors"])
        assert case.error in errors, errors
        return
    assert outcome["status"] == "ok", outcome
    lake = Path(corpus_settings.lake_base) / "corpus"
    raw = pd.read_parquet(lake / "raw_posts" / f"{outcome['batch']}.parquet")
    quarantine = pd.read_parquet(lake / "quarantine" / f"{outcome['batch']}.parquet")
    assert (len(raw), len(quarantine)) == (case.kept, case.quarantined)
    reasons = " ".join(quarantine["reason"])
    assert all(fragment in reasons for fragment in case.reasons), reasons
    assert quarantine["reason"].str.len().gt(0).all()
    assert not set(raw["source_row"]) & set(quarantine["source_row"])  # each row once, kept or quarantined
    landed = list(corpus_settings.landing_dir.rglob("*"))
    assert all(corpus_settings.home in p.resolve().parents for p in landed)  # nothing escaped MLDS_HOME


def test_duplicate_ids_across_files_are_one_post(corpus_settings, instance, tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(HEADER + GOOD)
    second.write_text(HEADER + GOOD.replace("second post", "second post, edited") + "3,third,2024-01-03T10:00:00Z,1\n")
    assert ingest(corpus_settings, first, "corpus", instance)["status"] == "ok"
    assert ingest(corpus_settings, second, "corpus", instance)["status"] == "ok"
    report = status(corpus_settings, instance)["platforms"]["corpus"]
    assert report["posts"] == 3 and report["batches"] == 2  # ids 1 and 2 once each, however many files


# --- probes beyond the corpus (issue 15) -----------------------------------------------------------


def _store_posts(settings, platform: str) -> pd.DataFrame:
    from mlds_assets.service.store import open_store

    return open_store(settings).fetch({"platform": platform}, limit=1000)


def test_sub_microsecond_created_at_reaches_the_store_and_a_rebuild_keeps_it(corpus_settings, instance, tmp_path):
    from mlds_assets.store.rebuild import rebuild_platform

    path = tmp_path / "nanos.csv"
    path.write_text(HEADER + "1,a,2024-01-01T10:00:00.123456789Z,1\n2,b,2024-01-02T10:00:00.5Z,2\n")
    outcome = ingest(corpus_settings, path, "corpus", instance)
    assert outcome["status"] == "ok", outcome
    stored = _store_posts(corpus_settings, "corpus").sort_values("native_id")
    assert stored["created_at"].tolist() == [
        pd.Timestamp("2024-01-01T10:00:00.123456Z"),  # truncated to the microsecond, the store's precision
        pd.Timestamp("2024-01-02T10:00:00.5Z"),
    ]
    from mlds_assets.service.store import open_store

    assert rebuild_platform(open_store(corpus_settings), corpus_settings.lake_base, "corpus") == 2


def test_a_tiktok_epoch_with_seven_decimals_reaches_the_store(settings, instance, tmp_path):
    path = tmp_path / "videos.jsonl"
    path.write_text(
        '{"video_id": "7301", "desc": "a", "create_time": 1700000000.1234567}\n'
        '{"video_id": "7302", "desc": "b", "create_time": 1700000001}\n'
    )
    outcome = ingest(settings, path, "tiktok", instance)
    assert outcome["status"] == "ok", outcome
    stored = _store_posts(settings, "tiktok").sort_values("native_id")
    assert stored["created_at"].tolist() == [
        pd.Timestamp("2023-11-14T22:13:20.123457Z"),  # rounded to the microsecond
        pd.Timestamp("2023-11-14T22:13:21Z"),
    ]


def test_mixed_encodings_keep_every_utf8_row_intact(corpus_settings, instance, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        (HEADER + "1,café,2024-01-01T10:00:00Z,1\n2,日本語のテキスト,2024-01-02T10:00:00Z,2\n").encode() + LATIN1_ROW
    )
    outcome = ingest(corpus_settings, path, "corpus", instance)
    assert outcome["status"] == "ok", outcome
    lake = Path(corpus_settings.lake_base) / "corpus"
    raw = pd.read_parquet(lake / "raw_posts" / f"{outcome['batch']}.parquet").sort_values("native_id")
    cleaned = pd.read_parquet(lake / "cleaned_posts" / f"{outcome['batch']}.parquet").sort_values("native_id")
    assert raw["text"].tolist() == ["café", "日本語のテキスト", "café crème"]
    assert cleaned["clean_text"].tolist() == ["café", "日本語のテキスト", "café crème"]
    assert [json.loads(r)["text"] for r in raw["raw_record"]] == ["café", "日本語のテキスト", "café crème"]


def test_an_id_written_as_a_json_float_is_the_same_post_as_its_digits(corpus_settings, instance, tmp_path):
    csv_file, json_file = tmp_path / "digits.csv", tmp_path / "floats.json"
    csv_file.write_text(HEADER + "1000000000000000000,from csv,2024-01-01T10:00:00Z,1\n")
    json_file.write_text('[{"id": 1e18, "text": "from json", "created_at": "2024-01-01T10:00:00Z", "likes": 2.0}]')
    assert ingest(corpus_settings, csv_file, "corpus", instance)["status"] == "ok"
    assert ingest(corpus_settings, json_file, "corpus", instance)["status"] == "ok"
    report = status(corpus_settings, instance)["platforms"]["corpus"]
    assert report["posts"] == 1  # one post, however its id was written
    [stored] = _store_posts(corpus_settings, "corpus").to_dict("records")
    assert (stored["native_id"], stored["text"], stored["likes"]) == ("1000000000000000000", "from json", 2)


@pytest.mark.parametrize("body", [HEADER, HEADER + "1,a,yesterday,1\n"], ids=["header only", "every row quarantined"])
def test_an_empty_batch_goes_through_every_phase_two_stage(corpus_settings, instance, tmp_path, body):
    from mlds_assets.service.enrich import enrich

    path = tmp_path / "empty.csv"
    path.write_text(body)
    outcome = ingest(corpus_settings, path, "corpus", instance)
    assert outcome["status"] == "ok", outcome
    for stage in ("sentiment", "embeddings", "entities"):
        outcomes = enrich(corpus_settings, stage, "corpus", instance)
        assert outcomes and all(o["status"] == "ok" for o in outcomes), outcomes
    assert status(corpus_settings, instance)["platforms"]["corpus"]["posts"] == 0
