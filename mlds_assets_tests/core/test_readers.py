"""read_export: every value as text, every record counted, file-level problems named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlds_assets.core import readers
from mlds_assets.core.readers import SOURCE_ROW, ExportReadError, detect_format, read_export
from mlds_assets.settings import ReadOptions
from mlds_assets_tests.conftest import REPO


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def rows(result) -> list[dict]:
    return result.records.drop(columns=[SOURCE_ROW]).to_dict("records")


# --- CSV: encodings and line endings ---------------------------------------------------------------


def test_csv_utf8_with_bom(tmp_path):
    result = read_export(write(tmp_path, "bom.csv", "\ufeffid,text\n1,héllo\n".encode()))
    assert list(result.records.columns) == ["id", "text", SOURCE_ROW]  # no BOM in the first name
    assert rows(result) == [{"id": "1", "text": "héllo"}]
    assert result.encoding == "utf-8"
    assert result.warnings == []
    assert result.rows_in == 1


def test_csv_latin1_falls_back_with_warning(tmp_path):
    result = read_export(write(tmp_path, "latin.csv", "id,text\n1,café crème\n".encode("latin-1")))
    assert rows(result) == [{"id": "1", "text": "café crème"}]
    assert result.encoding == "latin-1"
    assert len(result.warnings) == 1
    assert "latin.csv" in result.warnings[0] and "latin-1" in result.warnings[0]


def test_csv_cr_only_line_endings(tmp_path):
    result = read_export(write(tmp_path, "mac.csv", b"id,text\r1,a\r2,b\r"))
    assert rows(result) == [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]
    assert result.records[SOURCE_ROW].tolist() == [1, 2]
    assert any("CR-only" in w for w in result.warnings)


def test_csv_crlf(tmp_path):
    result = read_export(write(tmp_path, "win.csv", b"id,text\r\n1,a\r\n2,b\r\n"))
    assert rows(result) == [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]  # no stray \r in values
    assert result.warnings == []


def test_bare_cr_inside_quoted_field_stays_in_the_field(tmp_path):
    result = read_export(write(tmp_path, "cr.csv", b'id,text\n1,"first\rsecond"\n2,c\n'))
    assert rows(result) == [{"id": "1", "text": "first\rsecond"}, {"id": "2", "text": "c"}]
    assert result.rows_in == 2


def test_header_only_csv_has_zero_rows(tmp_path):
    result = read_export(write(tmp_path, "header.csv", "id,text\n"))
    assert result.rows_in == 0
    assert len(result.records) == 0
    assert list(result.records.columns) == ["id", "text", SOURCE_ROW]
    assert result.bad_rows.empty


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_empty_file_is_an_error_naming_the_file(tmp_path, content):
    with pytest.raises(ExportReadError, match=r"empty\.csv"):
        read_export(write(tmp_path, "empty.csv", content))


def test_error_uses_the_inbox_name_when_given(tmp_path):
    with pytest.raises(ExportReadError, match=r"my export\.csv"):
        read_export(write(tmp_path, "landed-abc.csv", b""), name="my export.csv")


def test_csv_row_with_too_many_fields_goes_to_bad_rows(tmp_path):
    result = read_export(write(tmp_path, "wide.csv", "id,text\n1,a\n2,b,extra\n3,c\n"))
    assert rows(result) == [{"id": "1", "text": "a"}, {"id": "3", "text": "c"}]
    assert result.records[SOURCE_ROW].tolist() == [1, 3]
    assert result.bad_rows[SOURCE_ROW].tolist() == [2]
    assert "expected 2 fields, found 3" in result.bad_rows["reason"].iloc[0]
    assert json.loads(result.bad_rows["raw_record"].iloc[0]) == ["2", "b", "extra"]
    assert result.rows_in == 3 == len(result.records) + len(result.bad_rows)


PLAIN_BUT_TRICKY = (
    "\ufeffid, text ,likes\r\n"
    '1,"a, quoted ""comma""",3\r\n'
    '2,"two\r\nlines",\r\n'
    "\r\n"
    "3,caf\u00e9 \U0001f600 \u0130stanbul,007\r\n"
    '4,"",1.50\r\n'
    "5,  spaced  ,\r\n"
)


@pytest.mark.parametrize("data", [PLAIN_BUT_TRICKY, PLAIN_BUT_TRICKY.replace("\r\n", "\n")], ids=["crlf", "lf"])
def test_arrow_reader_and_the_general_path_read_plain_files_alike(tmp_path, monkeypatch, data):
    """Plain UTF-8 files take Arrow's reader; anything it cannot be trusted with takes the general path.
    On a file both can read, both give the same records, numbers and columns."""
    path = write(tmp_path, "plain.csv", data)
    fast = read_export(path)
    monkeypatch.setattr(readers, "_read_plain_csv", lambda data, options: None)
    general = read_export(path)
    assert readers._read_plain_csv(b"", ReadOptions()) is None  # the patch held: the general path was used
    monkeypatch.undo()
    assert readers._read_plain_csv(path.read_bytes(), ReadOptions()) is not None  # and Arrow read it
    pd.testing.assert_frame_equal(fast.records, general.records)
    assert list(fast.records.columns) == ["id", "text", "likes", SOURCE_ROW]
    assert rows(fast)[1]["text"] == "two\nlines" and rows(fast)[4]["text"] == "  spaced  "
    assert fast.records[SOURCE_ROW].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "data",
    [
        'id,text\n1,a 5" screen\n2,b\n',  # a stray quote inside an unquoted field
        'id,text\n1,a\n2,"x 5"" screen"\n3,"left open\n',  # an even count of quotes, one left open
        "id,id\n1,2\n",  # duplicate names: pandas renames the second
        "id,\n1,2\n",  # an unnamed column
        "id,text\n1,a\n2\n",  # a short record
    ],
)
def test_files_arrow_cannot_be_trusted_with_take_the_general_path(tmp_path, data):
    path = write(tmp_path, "odd.csv", data)
    assert readers._read_plain_csv(path.read_bytes(), ReadOptions()) is None


def test_record_numbers_skip_blank_lines_in_both_csv_paths(tmp_path):
    clean = read_export(write(tmp_path, "a.csv", "id,text\n1,a\n\n2,b\n3,c\n"))
    wide = read_export(write(tmp_path, "b.csv", "id,text\n1,a\n\n2,b,extra\n3,c\n"))
    assert clean.records[SOURCE_ROW].tolist() == [1, 2, 3]
    assert wide.records[SOURCE_ROW].tolist() == [1, 3]
    assert wide.bad_rows[SOURCE_ROW].tolist() == [2]


def test_wide_row_without_header_loses_no_record(tmp_path):
    result = read_export(write(tmp_path, "nohead.csv", "1,a\n2,b,extra\n3,c\n"), options=ReadOptions(header=False))
    assert rows(result) == [{"0": "1", "1": "a"}, {"0": "3", "1": "c"}]
    assert result.bad_rows[SOURCE_ROW].tolist() == [2]
    assert result.rows_in == 3
    plain = read_export(write(tmp_path, "plain.csv", "1,a\n3,c\n"), options=ReadOptions(header=False))
    assert rows(plain) == [{"0": "1", "1": "a"}, {"0": "3", "1": "c"}]  # the same names either way


def test_unbalanced_quote_is_an_error_naming_the_row(tmp_path):
    with pytest.raises(ExportReadError) as err:
        read_export(write(tmp_path, "quote.csv", 'id,text\n1,a\n2,"never closed\n3,c\n'))
    assert "quote.csv" in str(err.value)
    assert "row " in str(err.value)


def test_csv_other_delimiter_and_no_header(tmp_path):
    options = ReadOptions(delimiter=";", header=False, names=("id", "text"))
    result = read_export(write(tmp_path, "semi.csv", "1;a,b\n2;c\n"), options=options)
    assert rows(result) == [{"id": "1", "text": "a,b"}, {"id": "2", "text": "c"}]


def test_values_stay_text(tmp_path):
    result = read_export(write(tmp_path, "types.csv", "id,n,empty\n007,1.50,\n"))
    assert rows(result) == [{"id": "007", "n": "1.50", "empty": ""}]


def test_unknown_extension():
    with pytest.raises(ExportReadError, match="unknown file type"):
        detect_format(Path("export.docx"))
    assert detect_format(Path("A.JSONL")) == "jsonl"


# --- JSON and JSONL ---------------------------------------------------------------------------------


def test_json_records_path_and_nested_keys_flattened(tmp_path):
    document = {
        "data": [
            {"id": 1, "caption": "hi", "stats": {"likes": 3, "deep": {"x": "y"}}, "tags": ["a", "b"], "ok": True},
            {"id": 2, "caption": None},
        ],
        "paging": {"next": None},
    }
    path = write(tmp_path, "ig.json", json.dumps(document))
    result = read_export(path, options=ReadOptions(records_path="data"))
    assert result.rows_in == 2
    assert list(result.records.columns) == ["id", "caption", "stats.likes", "stats.deep.x", "tags", "ok", SOURCE_ROW]
    first, second = rows(result)
    assert first == {
        "id": "1",
        "caption": "hi",
        "stats.likes": "3",
        "stats.deep.x": "y",
        "tags": '["a", "b"]',
        "ok": "true",
    }
    assert second == {"id": "2", "caption": "", "stats.likes": "", "stats.deep.x": "", "tags": "", "ok": ""}


def test_json_integers_stay_exact_when_a_record_lacks_the_key(tmp_path):
    records = [{"id": 7000000000000000001, "n": {"plays": 12345678901234567}}, {"id": 5}]
    result = read_export(write(tmp_path, "big.json", json.dumps(records)))
    assert rows(result) == [
        {"id": "7000000000000000001", "n.plays": "12345678901234567"},
        {"id": "5", "n.plays": ""},
    ]


def test_json_missing_records_path(tmp_path):
    with pytest.raises(ExportReadError, match="'data'"):
        read_export(write(tmp_path, "x.json", '{"items": []}'), options=ReadOptions(records_path="data"))


def test_json_with_trailing_garbage_names_line_and_column(tmp_path):
    with pytest.raises(ExportReadError) as err:
        read_export(write(tmp_path, "trail.json", '[{"id": 1}]\n\n  xyz'))
    assert "trail.json" in str(err.value)
    assert "line 3, column 3" in str(err.value)


def test_json_record_that_is_not_an_object(tmp_path):
    result = read_export(write(tmp_path, "mixed.json", '[{"id": 1}, 42, ["a"], {"id": 4}]'))
    assert rows(result) == [{"id": "1"}, {"id": "4"}]
    assert result.records[SOURCE_ROW].tolist() == [1, 4]
    assert result.bad_rows[SOURCE_ROW].tolist() == [2, 3]
    assert all("not a JSON object" in r for r in result.bad_rows["reason"])
    assert result.rows_in == 4


def test_json_top_level_not_a_list(tmp_path):
    with pytest.raises(ExportReadError, match="expected a list"):
        read_export(write(tmp_path, "obj.json", '{"id": 1}'))


def test_jsonl_with_one_broken_line(tmp_path):
    content = '{"video_id": "1", "author": {"unique_id": "a"}}\n{"video_id": "2",\n\n{"video_id": "4"}\n'
    result = read_export(write(tmp_path, "t.jsonl", content))
    assert rows(result) == [{"video_id": "1", "author.unique_id": "a"}, {"video_id": "4", "author.unique_id": ""}]
    assert result.records[SOURCE_ROW].tolist() == [1, 4]  # line numbers; the blank line 3 is no record
    assert result.bad_rows[SOURCE_ROW].tolist() == [2]
    assert result.bad_rows["reason"].iloc[0].startswith("line 2:")
    assert result.rows_in == 3


# --- Parquet and XLSX -------------------------------------------------------------------------------


def test_parquet_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "text": ["a", None, "c"],
            "likes": pd.array([5, None, 7], dtype="Int64"),
            "score": [1.5, float("nan"), 2.0],
            "when": pd.to_datetime(["2024-01-01 10:00", None, "2024-01-03 00:00"]),
        }
    )
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    result = read_export(path)
    assert result.rows_in == 3
    assert rows(result) == [
        {"id": "1", "text": "a", "likes": "5", "score": "1.5", "when": "2024-01-01T10:00:00"},
        {"id": "2", "text": "", "likes": "", "score": "", "when": ""},
        {"id": "3", "text": "c", "likes": "7", "score": "2.0", "when": "2024-01-03T00:00:00"},
    ]
    assert result.records[SOURCE_ROW].tolist() == [1, 2, 3]


def test_not_parquet(tmp_path):
    with pytest.raises(ExportReadError, match=r"bad\.parquet"):
        read_export(write(tmp_path, "bad.parquet", b"PAR1 this is not parquet"))


def test_xlsx_round_trip(tmp_path):
    frame = pd.DataFrame({"id": ["10", "11"], "text": ["hello", ""], "n": [3, 4]})
    path = tmp_path / "book.xlsx"
    frame.to_excel(path, index=False, engine="openpyxl")
    result = read_export(path)
    assert rows(result) == [{"id": "10", "text": "hello", "n": "3"}, {"id": "11", "text": "", "n": "4"}]
    assert result.rows_in == 2
    assert result.records[SOURCE_ROW].tolist() == [1, 2]


def test_xlsx_that_is_not_a_zip(tmp_path):
    with pytest.raises(ExportReadError) as err:
        read_export(write(tmp_path, "fake.xlsx", "id,text\n1,a\n"))
    assert "fake.xlsx" in str(err.value)
    assert "XLSX" in str(err.value)


# --- probes beyond the corpus (issue 15) -----------------------------------------------------------


def test_mixed_encodings_decode_per_line_and_never_re_decode_utf8(tmp_path):
    data = "id,text\n1,café\n2,日本語のテキスト\n".encode() + "3,crème brûlée\n".encode("latin-1")
    data += b"4,\x93quoted\x94\n"
    result = read_export(write(tmp_path, "mixed.csv", data))
    assert rows(result) == [
        {"id": "1", "text": "café"},
        {"id": "2", "text": "日本語のテキスト"},
        {"id": "3", "text": "crème brûlée"},  # latin-1
        {"id": "4", "text": "\u201cquoted\u201d"},  # cp1252's curly quotes
    ]
    assert result.encoding == "utf-8+cp1252+latin-1"
    assert result.warnings == [
        "mixed.csv: 2 line(s) not valid UTF-8 (line 4, 5): read as cp1252+latin-1; the other lines as UTF-8"
    ]


def test_utf16_with_bom_is_decoded(tmp_path):
    result = read_export(write(tmp_path, "wide.csv", "id,text\n1,héllo\n2,b\n".encode("utf-16")))
    assert list(result.records.columns) == ["id", "text", SOURCE_ROW]
    assert rows(result) == [{"id": "1", "text": "héllo"}, {"id": "2", "text": "b"}]
    assert result.encoding == "utf-16"


def test_gzip_named_csv_is_named_as_gzip(tmp_path):
    import gzip

    with pytest.raises(ExportReadError, match=r"packed\.csv: the file is gzip-compressed"):
        read_export(write(tmp_path, "packed.csv", gzip.compress(b"id,text\n1,a\n")))


@pytest.mark.parametrize("body", ["id,text,id\n1,a,9\n", "id,text,id\n1,a,9\n2,b\n"], ids=["even", "ragged"])
def test_duplicate_header_names_are_warned_and_named(tmp_path, body):
    result = read_export(write(tmp_path, "dupes.csv", body))
    assert result.records["id"].tolist()[0] == "1"  # the first of the repeated columns
    assert any("dupes.csv: duplicate column name(s) ['id']" in w for w in result.warnings), result.warnings


def test_json_nested_too_deeply_names_the_file(tmp_path):
    deep = '[{"id": "1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}]"
    with pytest.raises(ExportReadError, match=r"deep\.json: JSON nested too deeply"):
        read_export(write(tmp_path, "deep.json", deep))


def test_jsonl_line_nested_too_deeply_is_quarantined_alone(tmp_path):
    deep = '{"id": "2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result = read_export(write(tmp_path, "deep.jsonl", f'{{"id": "1"}}\n{deep}\n{{"id": "3"}}\n'))
    assert result.records["id"].tolist() == ["1", "3"]
    assert result.bad_rows[SOURCE_ROW].tolist() == [2]
    assert "line 2: JSON nested too deeply" in result.bad_rows["reason"][0]
    assert result.rows_in == 3


def test_json_numbers_are_read_as_their_exact_text(tmp_path):
    body = '[{"id": 1e18, "big": 12345678901234567890, "t": 1795922017.1234567, "n": 5.0, "r": 0.1}]'
    assert rows(read_export(write(tmp_path, "numbers.json", body))) == [
        {"id": "1000000000000000000", "big": "12345678901234567890", "t": "1795922017.1234567", "n": "5", "r": "0.1"}
    ]


def test_a_record_nested_deeper_than_the_limit_is_quarantined_alone(tmp_path):
    deep = '{"id": "2", "x": ' + '{"y": ' * 150 + "1" + "}" * 150 + "}"
    listed = '{"id": "3", "x": ' + "[" * 500 + "]" * 500 + "}"
    result = read_export(write(tmp_path, "deep.jsonl", f'{{"id": "1"}}\n{deep}\n{listed}\n'))
    assert result.records["id"].tolist() == ["1"]
    assert result.bad_rows["reason"].tolist() == ["record 2: nested more than 100 levels"] * 1 + [
        "record 3: nested more than 100 levels"
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_file_wider_than_max_columns_fails_naming_the_setting(tmp_path, fmt):
    if fmt == "csv":
        path = write(tmp_path, "wide.csv", ",".join(f"c{i}" for i in range(50)) + "\n" + ",".join("1" * 50) + "\n")
    else:
        path = write(tmp_path, "wide.jsonl", json.dumps({f"c{i}": 1 for i in range(50)}) + "\n")
    with pytest.raises(ExportReadError, match=r"50 columns, more than ingestion\.max_columns \(49\)"):
        read_export(path, max_columns=49)
    assert len(read_export(path, max_columns=50).records.columns) == 51  # 50 and the source row


def _workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path) as writer:
        for sheet, frame in sheets.items():
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return path


def test_every_sheet_with_the_same_header_is_read(tmp_path):
    one = pd.DataFrame({"id": ["1", "2", "3"], "text": ["a", "b", "c"]})
    two = pd.DataFrame({"id": ["4", "5", "6", "7"], "text": ["d", "e", "f", "g"]})
    result = read_export(_workbook(tmp_path / "two.xlsx", {"Jan": one, "Feb": two}))
    assert result.rows_in == 7 and result.records["id"].tolist() == ["1", "2", "3", "4", "5", "6", "7"]
    assert result.records[SOURCE_ROW].tolist() == list(range(1, 8))
    assert any("2 sheets read" in w and "'Feb' 4" in w for w in result.warnings)


def test_a_sheet_with_other_columns_is_an_error_naming_it(tmp_path):
    data = pd.DataFrame({"id": ["1"], "text": ["a"]})
    notes = pd.DataFrame({"note": ["exported by hand"]})
    path = _workbook(tmp_path / "notes.xlsx", {"Posts": data, "Notes": notes})
    with pytest.raises(ExportReadError, match=r"notes\.xlsx: sheet\(s\) \['Notes'\] have other columns"):
        read_export(path)
    chosen = read_export(path, options=ReadOptions(sheet="Posts"))  # the configured sheet only, the rest named
    assert chosen.rows_in == 1
    assert chosen.warnings == ["notes.xlsx: sheet(s) ['Notes'] not read (read.sheet is 'Posts')"]


# --- records longer than ingestion.max_record_mb (issue 15: a 200 MB single-line file peaked at 4.4 GB) ------


def test_a_csv_line_longer_than_max_record_bytes_fails_naming_file_line_and_setting(tmp_path):
    body = "id,text\n1,short\n2," + "x" * 5000 + "\n3,short\n"
    too_long = r"^long\.csv: line 3 is 5,002 bytes, longer than ingestion\.max_record_mb"
    with pytest.raises(ExportReadError, match=too_long):
        read_export(write(tmp_path, "long.csv", body), max_record_bytes=4096)
    with pytest.raises(ExportReadError, match=r"^one\.csv: line 1 is 5,000 bytes"):  # a single line, no line break
        read_export(write(tmp_path, "one.csv", "x" * 5000), max_record_bytes=4096)
    assert len(read_export(write(tmp_path, "ok.csv", body), max_record_bytes=5002).records) == 3  # at the limit


def test_a_jsonl_line_longer_than_max_record_bytes_is_quarantined_unread_and_counted(tmp_path):
    lines = ['{"id": "1", "text": "a"}', '{"id": "2", "text": "' + "é" * 3000 + '"}', "", '{"id": "4", "text": "d"}']
    result = read_export(write(tmp_path, "long.jsonl", "\r\n".join(lines) + "\r\n"), max_record_bytes=4096)
    assert rows(result) == [{"id": "1", "text": "a"}, {"id": "4", "text": "d"}]
    assert result.records[SOURCE_ROW].tolist() == [1, 4]  # line numbers hold after the line left out
    assert result.rows_in == 3 and result.bad_rows[SOURCE_ROW].tolist() == [2]
    reason = result.bad_rows["reason"].iloc[0]
    assert reason.startswith("line 2: 6,024 bytes, longer than ingestion.max_record_mb (4,096 bytes)"), reason
    assert json.loads(result.bad_rows["raw_record"].iloc[0]).startswith('{"id": "2", "text": "éé')  # its head only
    assert any("1 line(s) longer than ingestion.max_record_mb" in w for w in result.warnings)
    every = read_export(write(tmp_path, "all.jsonl", lines[1]), max_record_bytes=4096)  # nothing else in the file
    assert (every.rows_in, len(every.records), len(every.bad_rows)) == (1, 0, 1)


def test_a_json_value_longer_than_max_record_bytes_fails_but_a_minified_file_reads(tmp_path):
    records = [{"id": str(i), "text": f"post {i}"} for i in range(2000)]
    minified = write(tmp_path, "minified.json", json.dumps(records))  # one line of about 50 KB
    assert len(read_export(minified, max_record_bytes=4096).records) == 2000
    huge = write(tmp_path, "huge.json", json.dumps([*records[:3], {"id": "x", "text": "y" * 5000}]))
    too_long = r"^huge\.json: more than 4,096 bytes without a quote .* ingestion\.max_record_mb"
    with pytest.raises(ExportReadError, match=too_long):
        read_export(huge, max_record_bytes=4096)


ONE_LINE_START = {".csv": "id,text\n1,", ".jsonl": '{"id": "1", "text": "', ".json": '[{"id": "1", "text": "'}
PEAK_SCRIPT = """
import resource, sys
from mlds_assets.core.readers import ExportReadError, read_export
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    result = read_export(sys.argv[1])
    outcome = f"read {result.rows_in} {len(result.bad_rows)}"
except ExportReadError as exc:
    outcome = f"refused {exc}"
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, outcome)
"""


@pytest.mark.parametrize("name", ["one-line.csv", "one-line.jsonl", "one-line.json"])
def test_a_64_mb_single_line_file_is_refused_without_reading_it_whole(tmp_path, name):
    """Peak memory in a fresh process, past what its imports took: before the limit, a file like this cost
    about eight times its size (a 200 MB one: 1.7 GB to read and map, 2.2 GB through `mlds ingest`)."""
    path = tmp_path / name
    with path.open("w") as handle:
        handle.write(ONE_LINE_START[path.suffix])
        for _ in range(64):
            handle.write("lorem ipsu " * 95_325)  # about 1 MB, no line break, no quote
        handle.write({".csv": "\n", ".jsonl": '"}\n', ".json": '"}]'}[path.suffix])
    assert path.stat().st_size > 64_000_000
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True,
                          cwd=REPO, check=True, timeout=300)  # fmt: skip
    grown_mb, outcome = done.stdout.strip().split(" ", 1)
    said = f"{name} ({path.stat().st_size:,} bytes): {outcome}; peak memory grew {grown_mb} MB"
    assert int(grown_mb) < 48, said
    if name.endswith(".jsonl"):
        assert outcome == "read 1 1", said  # the record is counted and quarantined, not read
    else:
        assert outcome.startswith(f"refused {name}: ") and "ingestion.max_record_mb (16.0 MB)" in outcome, said
