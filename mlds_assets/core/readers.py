"""Readers for platform exports: every value comes back as text, every record is counted.

A reader never drops a record silently: records it cannot parse come back in `bad_rows` with their
number and reason, and `rows_in` counts both. File-level problems (not a workbook, truncated JSON,
unbalanced quotes) raise ExportReadError naming the file and, where known, the row.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import reprlib
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from mlds_assets.core.schema import TEXT
from mlds_assets.settings import ReadOptions

SOURCE_ROW = "_source_row"
EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "xlsx",
}  # fmt: skip


class ExportReadError(ValueError):
    """The file as a whole cannot be read; the message names the file and, where known, the row."""


@dataclass
class ReadResult:
    records: pd.DataFrame  # one Arrow-backed text column per native field ('' for missing), plus SOURCE_ROW
    bad_rows: pd.DataFrame  # SOURCE_ROW, reason, raw_record: records the reader itself could not parse
    rows_in: int
    encoding: str = "utf-8"
    warnings: list[str] = field(default_factory=list)


def detect_format(path: Path) -> str:
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ExportReadError(f"{path.name}: unknown file type {path.suffix!r}; expected one of {sorted(EXTENSIONS)}")
    return fmt


DEFAULT_MAX_COLUMNS = 10_000  # ingestion.max_columns
DEFAULT_MAX_RECORD_BYTES = 16 << 20  # ingestion.max_record_mb


def read_export(
    path: str | Path,
    fmt: str | None = None,
    options: ReadOptions | None = None,
    name: str | None = None,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> ReadResult:
    """`name` is the file's name as the user knows it (the inbox name), used in every message. A file with
    more than `max_columns` columns fails at once (a 100,000-column header took minutes and gigabytes).

    Before a text file is read whole, it is scanned in bounded chunks for a record longer than
    `max_record_bytes`: a 200 MB line took gigabytes on its way through decoding, parsing, the mapper's
    quarantine record and the lake. Such a JSONL line is quarantined unread; a CSV line (its records may
    span lines, so it cannot be cut out) or a JSON value fails the file, naming the line and the setting."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    options = options or ReadOptions()
    name = name or path.name
    long_lines: list[tuple[int, int, int]] = []
    if fmt == "csv":
        long_lines = _long_lines(path, max_record_bytes, stop_at_first=True)
        if long_lines:
            line, _, length = long_lines[0]
            raise ExportReadError(_too_long(name, line, length, max_record_bytes))
    elif fmt == "jsonl":
        long_lines = _long_lines(path, max_record_bytes, eol=b"\n")
    elif fmt == "json":
        _check_json_value_length(path, name, max_record_bytes)
    if fmt == "csv":
        _check_header_width(path, options, name, max_columns)
    if fmt == "jsonl":
        result = _read_jsonl(path, options, name, long_lines, max_record_bytes)
    else:
        readers = {"csv": _read_csv, "json": _read_json, "parquet": _read_parquet, "xlsx": _read_xlsx}
        result = readers[fmt](path, options, name)
    width = len(result.records.columns) - (SOURCE_ROW in result.records.columns)
    if width > max_columns:
        raise ExportReadError(_too_wide(name, width, max_columns))
    result.records = as_text_columns(result.records)
    return result


def _too_wide(name: str, width: int, max_columns: int) -> str:
    return (
        f"{name}: {width} columns, more than ingestion.max_columns ({max_columns}); "
        "is it the right file (and delimiter)? Raise the setting if it is"
    )


def _too_long(name: str, line: int, length: int, max_record_bytes: int) -> str:
    return (
        f"{name}: line {line} is {_size(length)}, longer than ingestion.max_record_mb ({_size(max_record_bytes)}); "
        "is it the right file (a one-line dump, a missing line break)? Raise the setting if it is"
    )


def _size(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MB" if n >= 1 << 20 else f"{n:,} bytes"


_SCAN_CHUNK = 8 << 20


def _long_lines(
    path: Path, limit: int, stop_at_first: bool = False, eol: bytes | None = None, cap: int = 1000
) -> list[tuple[int, int, int]]:
    """(1-based line number, byte offset, length in bytes) of each line longer than `limit` bytes (at most
    `cap`), read in chunks of at most 8 MB: memory stays bounded however long a line is. Lines end at `eol`;
    by default LF, or CR where the first chunk has CR and no LF (a CR-only file, as decode_text reads it)."""
    found: list[tuple[int, int, int]] = []
    step = max(1, min(limit, _SCAN_CHUNK))  # chunks no longer than the limit: only a line crossing chunks can be
    line, line_start, offset = 1, 0, 0  # the current line: its number and where it starts; where the chunk starts
    with open(path, "rb") as handle:
        while chunk := handle.read(step):
            eol = eol or (b"\r" if b"\r" in chunk and b"\n" not in chunk else b"\n")
            first = chunk.find(eol)
            if first >= 0:
                if offset + first - line_start > limit:
                    found.append((line, line_start, offset + first - line_start))
                    if stop_at_first or len(found) >= cap:
                        return found
                line += chunk.count(eol)
                line_start = offset + chunk.rfind(eol) + 1
            offset += len(chunk)
    if offset - line_start > limit:
        found.append((line, line_start, offset - line_start))
    return found


def _read_skipping(path: Path, spans: list[tuple[int, int, int]]) -> bytes:
    """The file's bytes without the given (line, offset, length) spans: each over-long line is left empty,
    its line break kept (so line numbers hold), and never read into memory."""
    parts, position = [], 0
    with open(path, "rb") as handle:
        for _line, start, length in spans:
            parts.append(handle.read(start - position))
            handle.seek(start + length)
            position = start + length
        parts.append(handle.read())
    return b"".join(parts)


def _check_json_value_length(path: Path, name: str, limit: int) -> None:
    """A JSON document may be one line (minified); what must stay short is each value. Every string and
    every key has quotes, so a stretch of more than `limit` bytes without a quote is a value (or a run of
    numbers) longer than the limit: the file fails before it is parsed, in bounded memory."""
    step = max(1, min(limit, _SCAN_CHUNK))
    offset, run, lines = 0, 0, 1
    with open(path, "rb") as handle:
        while chunk := handle.read(step):
            first = chunk.find(b'"')
            if first < 0:
                run += len(chunk)
            elif run + first > limit:
                break
            else:
                run = len(chunk) - chunk.rfind(b'"') - 1
            if run > limit:
                break
            offset += len(chunk)
            lines += chunk.count(b"\n")
        else:
            return
    raise ExportReadError(
        f"{name}: more than {_size(limit)} without a quote by byte {offset + len(chunk):,} (line {lines}): a JSON "
        f"value longer than ingestion.max_record_mb ({_size(limit)}); raise the setting if the file is right"
    )


def _check_header_width(path: Path, options: ReadOptions, name: str, max_columns: int) -> None:
    """Before any parsing: the first line's fields (a field count only grows with the rest of the file)."""
    with open(path, "rb") as handle:
        first = handle.readline(64 << 20)
    delimiters = first.count(options.delimiter.encode("utf-8", "replace")) if len(options.delimiter) == 1 else 0
    if delimiters + 1 <= max_columns:
        return
    try:
        width = len(next(csv.reader([first.decode("utf-8", "replace")], delimiter=options.delimiter)))
    except (csv.Error, StopIteration):
        width = delimiters + 1
    if width > max_columns:
        raise ExportReadError(_too_wide(name, width, max_columns))


def as_text_columns(records: pd.DataFrame) -> pd.DataFrame:
    """Native columns as Arrow-backed text: one buffer per column instead of a Python string per cell, so
    the mapper's string work runs in Arrow compute and the lake write is a copy, not a conversion."""
    text = {c: TEXT for c in records.columns if c != SOURCE_ROW and records[c].dtype != TEXT}
    return records.astype(text) if text else records


# --- text decoding ---------------------------------------------------------------------------------


def decode_text(name: str, data: bytes, encoding: str = "auto") -> tuple[str, str, list[str]]:
    """UTF-8 (with or without BOM) first; UTF-16 when it starts with its BOM. A file that is not valid UTF-8
    as a whole is decoded line by line: valid UTF-8 lines stay UTF-8 (never re-decoded), and each line that
    is not is read as latin-1 (cp1252 where it has cp1252's 0x80-0x9f characters), every such line named in
    a warning. Line endings become LF.

    CR-only files (old Mac exports) become LF; CRLF becomes LF; a bare CR inside a LF file stays in its
    field, where it belongs (a pasted carriage return in a tweet must not split the record).
    """
    warnings = []
    if encoding == "auto" and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text, used = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ExportReadError(
                f"{name}: starts with a UTF-16 byte order mark but is not valid UTF-16: {exc}"
            ) from exc
        text = text.removeprefix("\ufeff")
    elif encoding == "auto":
        try:
            text, used = data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            text, used, fallback = _decode_per_line(data)
            shown = ", ".join(str(n) for n in fallback[:10]) + (", ..." if len(fallback) > 10 else "")
            warnings.append(
                f"{name}: {len(fallback)} line(s) not valid UTF-8 (line {shown}): "
                f"read as {used.removeprefix('utf-8+')}; the other lines as UTF-8"
            )
    else:
        try:
            text, used = data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise ExportReadError(f"{name}: cannot decode as {encoding}: {exc}") from exc
        text = text.removeprefix("\ufeff")
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
        warnings.append(f"{name}: CR-only line endings")
    elif "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text, used, warnings


_CP1252_ONLY = bytes(range(0x80, 0xA0))


def _decode_per_line(data: bytes) -> tuple[str, str, list[int]]:
    """(text, encoding label, 1-based numbers of the lines not valid UTF-8). A LF byte never occurs inside
    a multi-byte UTF-8 character, so splitting the bytes at LF cuts no character in two."""
    lines, fallback, used, multibyte = [], [], set(), False
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(line.decode("utf-8-sig" if number == 1 else "utf-8"))
            multibyte = multibyte or not line.isascii()
        except UnicodeDecodeError:
            fallback.append(number)
            if any(byte in _CP1252_ONLY for byte in line):
                try:
                    lines.append(line.decode("cp1252"))
                    used.add("cp1252")
                    continue
                except UnicodeDecodeError:  # one of the five bytes cp1252 leaves undefined
                    pass
            lines.append(line.decode("latin-1"))
            used.add("latin-1")
    label = "+".join(sorted(used))
    return "\n".join(lines), f"utf-8+{label}" if multibyte else label, fallback


def _read_bytes(path: Path, name: str) -> bytes:
    data = path.read_bytes()
    if not data.strip():
        raise ExportReadError(f"{name}: the file is empty")
    if data[:2] == b"\x1f\x8b":
        raise ExportReadError(f"{name}: the file is gzip-compressed; decompress it (gunzip) and ingest the result")
    if data[:4] == b"PK\x03\x04":
        raise ExportReadError(f"{name}: the file is a ZIP archive (an XLSX workbook named {path.suffix}?)")
    return data


# --- formats ---------------------------------------------------------------------------------------


def _read_csv(path: Path, options: ReadOptions, name: str) -> ReadResult:
    data = _read_bytes(path, name)
    frame = _read_plain_csv(data, options)
    if frame is not None:
        frame[SOURCE_ROW] = range(1, len(frame) + 1)
        return ReadResult(frame, _no_bad_rows(), len(frame), "utf-8", [])
    text, encoding, warnings = decode_text(name, data, options.encoding)
    header = 0 if options.header and not options.names else None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            sep=options.delimiter,
            header=header,
            names=list(options.names) if options.names else None,
            keep_default_na=False,
            na_filter=False,
            lineterminator="\n",
            engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise ExportReadError(f"{name}: no header row and no data") from exc
    except pd.errors.ParserError:
        # Some record has the wrong number of fields: read record by record, keep the good ones and
        # account for the rest, rather than let pandas skip them.
        return _read_csv_record_by_record(name, text, options, encoding, warnings)
    if (
        options.header
        and not options.names
        and len(frame.columns) == 1
        and options.delimiter not in text.split("\n", 1)[0]
    ):
        warnings.append(
            f"{name}: only one column found with delimiter {options.delimiter!r}; is it the right delimiter?"
        )
    if header == 0:
        _warn_duplicate_names(name, text, options, warnings)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame[SOURCE_ROW] = range(1, len(frame) + 1)
    return ReadResult(frame, _no_bad_rows(), len(frame), encoding, warnings)


def _warn_duplicate_names(name: str, text: str, options: ReadOptions, warnings: list[str]) -> None:
    """pandas reads a repeated column name as name.1, name.2: the first is the one a platform maps."""
    try:
        names = [n.strip() for n in next(csv.reader(io.StringIO(text), delimiter=options.delimiter))]
    except (csv.Error, StopIteration):
        return
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        warnings.append(
            f"{name}: duplicate column name(s) {repeated} in the header; the first of each is used, "
            "the others are read as <name>.1, <name>.2, ..."
        )


def _read_plain_csv(data: bytes, options: ReadOptions) -> pd.DataFrame | None:
    """The common case in Arrow's multi-threaded reader, about ten times faster than pandas' C reader:
    valid UTF-8 (BOM or not), LF or CRLF line endings, a header of distinct, non-empty names, and every
    record with as many fields as the header. Anything else returns None and takes the general path, which
    handles latin-1, CR-only files, a bare CR inside a field and records with the wrong number of fields.
    """
    if options.encoding not in ("auto", "utf-8", "utf8", "utf-8-sig") or not options.header or options.names:
        return None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: decode_text reads it
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    if data.count(b'"') % 2:  # an unclosed quote (Arrow would read to the end of the file) or a stray one
        return None
    head = data[:65536]
    if b"\n" not in head:
        return None
    try:
        reader = csv.reader(io.StringIO(head.decode("utf-8-sig", errors="ignore")), delimiter=options.delimiter)
        names = next(reader)
    except (csv.Error, StopIteration):
        return None
    stripped = [n.strip() for n in names]
    if reader.line_num != 1 or len(names) < 2 or "" in stripped or len(set(stripped)) != len(stripped):
        return None  # a one-column file may have the wrong delimiter: the general path says so
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            parse_options=pa_csv.ParseOptions(delimiter=options.delimiter, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid:  # invalid UTF-8, a record with the wrong number of fields, unbalanced quotes
        return None
    if table.column_names != names:
        return None
    last = table.slice(table.num_rows - 1) if table.num_rows else None
    if last is not None and any("\n" in value for value in last.to_pylist()[0].values()):
        return None  # perhaps a quote left open near the end, which Arrow reads to the end of the file
    return table.rename_columns(stripped).to_pandas(types_mapper={pa.string(): TEXT}.get)


def _read_csv_record_by_record(
    name: str, text: str, options: ReadOptions, encoding: str, warnings: list[str]
) -> ReadResult:
    reader = csv.reader(io.StringIO(text), delimiter=options.delimiter, strict=True)
    rows, bad = [], []
    try:
        records = (record for record in reader if record)  # blank lines are no records (pandas skips them too)
        if options.names:
            columns = list(options.names)
        elif options.header:
            columns = _distinct_names([c.strip() for c in next(records)], name, warnings)
        else:  # no header and no names: columns 0..n-1 as pandas names them; the first record is data
            first = next(records)
            columns = [str(i) for i in range(len(first))]
            records = itertools.chain([first], records)
        for number, record in enumerate(records, start=1):
            if len(record) == len(columns):
                rows.append([*record, number])
            else:
                reason = f"row {number}: expected {len(columns)} fields, found {len(record)}"
                bad.append((number, reason, json.dumps(record, ensure_ascii=False)))
    except csv.Error as exc:
        raise ExportReadError(f"{name}: row {reader.line_num}: {exc} (unbalanced quotes?)") from exc
    frame = pd.DataFrame(rows, columns=[*columns, SOURCE_ROW])
    bad_rows = pd.DataFrame(bad, columns=[SOURCE_ROW, "reason", "raw_record"]) if bad else _no_bad_rows()
    warnings.append(f"{name}: {len(bad)} record(s) with the wrong number of fields quarantined")
    return ReadResult(frame, bad_rows, len(rows) + len(bad), encoding, warnings)


def _distinct_names(columns: list[str], name: str, warnings: list[str]) -> list[str]:
    """Repeated header names made distinct as pandas does (id, id.1), with a warning naming them."""
    seen: dict[str, int] = {}
    out = []
    for column in columns:
        out.append(f"{column}.{seen[column]}" if column in seen else column)
        seen[column] = seen.get(column, 0) + 1
    repeated = sorted(c for c, n in seen.items() if n > 1)
    if repeated:
        warnings.append(
            f"{name}: duplicate column name(s) {repeated} in the header; the first of each is used, "
            "the others are read as <name>.1, <name>.2, ..."
        )
    return out


class _JsonNumber(float):
    """A JSON number with a fraction or exponent, carrying its literal text: read as text, `1e18` is the id
    1000000000000000000 (not the float's '1e+18') and an epoch's seventh decimal is not rounded away."""

    literal: str

    def __new__(cls, literal: str) -> _JsonNumber:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number


def _json_number_text(literal: str) -> str:
    """A whole number in any notation as its digits, exactly (JSON literals are exact decimals); anything
    else as written."""
    try:
        number = Decimal(literal)
    except InvalidOperation:
        return literal
    if number.is_finite() and number == number.to_integral_value() and number.adjusted() < 40:
        return str(int(number))
    return literal


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=_JsonNumber)


def _read_json(path: Path, options: ReadOptions, name: str) -> ReadResult:
    text, encoding, warnings = decode_text(name, _read_bytes(path, name), options.encoding)
    try:
        document = _loads(text)
    except json.JSONDecodeError as exc:
        raise ExportReadError(f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise ExportReadError(f"{name}: JSON nested too deeply to read (about 1,000 levels or more)") from exc
    records = document
    if options.records_path:
        for key in options.records_path.split("."):
            if not isinstance(records, dict) or key not in records:
                raise ExportReadError(f"{name}: no {options.records_path!r} list in the document")
            records = records[key]
    if not isinstance(records, list):
        raise ExportReadError(f"{name}: expected a list of records, found {type(records).__name__}")
    return _records_to_result(records, range(1, len(records) + 1), [], encoding, warnings)


def _read_jsonl(
    path: Path,
    options: ReadOptions,
    name: str,
    long_lines: list[tuple[int, int, int]] = (),
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> ReadResult:
    """Lines longer than `max_record_bytes` (found by _long_lines) are quarantined without being read:
    their first 1,000 bytes are the raw record."""
    bad, warnings = [], []
    if long_lines:
        data = _read_skipping(path, long_lines)
        with open(path, "rb") as handle:
            for number, start, length in long_lines:
                handle.seek(start)
                head = handle.read(1000).decode("utf-8", "replace")
                reason = (
                    f"line {number}: {_size(length)}, longer than ingestion.max_record_mb "
                    f"({_size(max_record_bytes)}); not read"
                )
                bad.append((number, reason, json.dumps(head + " ...", ensure_ascii=False)))
        if not data.strip():
            data = b"\n"  # every line was too long: nothing else to read (not an empty file)
    else:
        data = _read_bytes(path, name)
    text, encoding, warnings = decode_text(name, data, options.encoding)
    del data
    if long_lines:
        warnings.append(
            f"{name}: {len(bad)} line(s) longer than ingestion.max_record_mb ({_size(max_record_bytes)}) "
            "quarantined unread"
        )
    long_numbers = {number for number, _, _ in long_lines}
    records, numbers = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or number in long_numbers:
            continue
        try:
            records.append(_loads(line))
            numbers.append(number)
        except json.JSONDecodeError as exc:
            bad.append((number, f"line {number}: invalid JSON at column {exc.colno}: {exc.msg}", json.dumps(line)))
        except RecursionError:
            reason = f"line {number}: JSON nested too deeply to read (about 1,000 levels or more)"
            bad.append((number, reason, json.dumps(line[:10_000])))
    return _records_to_result(records, numbers, bad, encoding, warnings)


def _records_to_result(
    records: list[Any], numbers: Any, bad: list[tuple[int, str, str]], encoding: str, warnings: list[str]
) -> ReadResult:
    good, good_numbers = [], []
    for number, record in zip(numbers, records, strict=True):
        if isinstance(record, dict):
            try:
                good.append(_flatten(record))
            except RecursionError:
                reason = f"record {number}: nested more than {MAX_JSON_DEPTH} levels"
                bad.append((number, reason, json.dumps(reprlib.repr(record))))  # repr() itself would recurse
                continue
            good_numbers.append(number)
        else:
            bad.append((number, f"record {number}: not a JSON object", json.dumps(record, ensure_ascii=False)))
    # Flattened by hand into object columns: json_normalize would turn an integer column with a missing
    # key into floats ('5' -> '5.0', and 19-digit ids lose their last digits).
    frame = pd.DataFrame(good, dtype=object) if good else pd.DataFrame(index=range(0))
    frame = _stringify(frame)
    frame[SOURCE_ROW] = good_numbers
    bad_rows = pd.DataFrame(bad, columns=[SOURCE_ROW, "reason", "raw_record"]) if bad else _no_bad_rows()
    return ReadResult(frame, bad_rows, len(good) + len(bad), encoding, warnings)


def _read_parquet(path: Path, options: ReadOptions, name: str) -> ReadResult:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise ExportReadError(f"{name}: not a readable Parquet file: {exc}") from exc
    frame = _stringify(frame)
    frame[SOURCE_ROW] = range(1, len(frame) + 1)
    return ReadResult(frame, _no_bad_rows(), len(frame), "parquet")


def _read_xlsx(path: Path, options: ReadOptions, name: str) -> ReadResult:
    """Every sheet by default, stacked when they share one header (a sheet with other columns is an error
    naming it, never dropped silently); `read.sheet` picks one sheet or a list. Rows are numbered through
    the workbook, sheet after sheet; which sheets were read is in the warnings."""
    wanted = options.sheet if options.sheet is None or isinstance(options.sheet, (int, str)) else list(options.sheet)
    try:
        sheets = pd.read_excel(path, sheet_name=wanted, dtype=str, engine="openpyxl", keep_default_na=False)
        all_names = pd.ExcelFile(path, engine="openpyxl").sheet_names
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ExportReadError(f"{name}: not a valid XLSX workbook (or no sheet {options.sheet!r}): {exc}") from exc
    if isinstance(sheets, pd.DataFrame):
        sheets = {all_names[wanted] if isinstance(wanted, int) else wanted: sheets}
    frames = {
        all_names[sheet] if isinstance(sheet, int) else str(sheet): frame.set_axis(
            [str(c).strip() for c in frame.columns], axis=1
        )
        for sheet, frame in sheets.items()
    }
    warnings = []
    if wanted is None:
        with_rows = {sheet: frame for sheet, frame in frames.items() if len(frame.columns) or len(frame)}
        first = next(iter(with_rows), None)
        other = [s for s, f in with_rows.items() if list(f.columns) != list(with_rows[first].columns)]
        if other:
            raise ExportReadError(
                f"{name}: sheet(s) {other} have other columns than sheet {first!r}; set read.sheet to the sheet "
                "(or list of sheets) to read"
            )
        frames = with_rows or frames
    else:
        ignored = [s for s in all_names if s not in frames]
        if ignored:
            warnings.append(f"{name}: sheet(s) {ignored} not read (read.sheet is {options.sheet!r})")
    if len(frames) > 1:
        counts = ", ".join(f"{sheet!r} {len(frame)}" for sheet, frame in frames.items())
        warnings.append(f"{name}: {len(frames)} sheets read, rows numbered through them in order ({counts})")
    frame = pd.concat(list(frames.values()), ignore_index=True) if frames else pd.DataFrame()
    frame = _stringify(frame)
    frame[SOURCE_ROW] = range(1, len(frame) + 1)
    return ReadResult(frame, _no_bad_rows(), len(frame), "xlsx", warnings)


# --- helpers ---------------------------------------------------------------------------------------


def _no_bad_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {SOURCE_ROW: pd.Series(dtype="int64"), "reason": pd.Series(dtype=str), "raw_record": pd.Series(dtype=str)}
    )


MAX_JSON_DEPTH = 100  # deeper records are quarantined: no export nests this far, and the text stays writable


def _flatten(
    record: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None, depth: int = 1
) -> dict[str, Any]:
    """Nested keys joined with dots, as json_normalize does, with the values left as they are. A record
    nested deeper than MAX_JSON_DEPTH raises RecursionError (the caller quarantines it)."""
    out = {} if out is None else out
    if depth > MAX_JSON_DEPTH:
        raise RecursionError(f"nested more than {MAX_JSON_DEPTH} levels")
    for key, value in record.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out, depth + 1)
        else:
            if isinstance(value, list) and _list_depth(value) + depth > MAX_JSON_DEPTH:
                raise RecursionError(f"nested more than {MAX_JSON_DEPTH} levels")
            out[f"{prefix}{key}"] = value
    return out


def _list_depth(value: list) -> int:
    """How deep lists and objects nest inside a list, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return deepest


def _as_text(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, _JsonNumber):
        return _json_number_text(value.literal)
    if isinstance(value, (bool, list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text: the mapper types values itself, so that a bad value is a reason, not a crash."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_integer_dtype(column.dtype) and not column.isna().any():
            out[str(name)] = column.astype(str)
        else:
            # astype(object) first: a nullable Int64 column maps its values as floats ('1' -> '1.0')
            out[str(name)] = column.astype(object).map(_as_text).astype(object)
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)
