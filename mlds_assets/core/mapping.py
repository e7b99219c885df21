"""Map a platform's native records onto the canonical post schema, quarantining what fails validation.

The ledger holds for every batch: rows in = rows kept + rows quarantined. A row that fails keeps its
raw record and every reason it failed, so it can be fixed and replayed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlds_assets.core.cleaning import INVISIBLE, OTHER_SPACE
from mlds_assets.core.ids import content_id, post_ids
from mlds_assets.core.readers import SOURCE_ROW, ReadResult, as_text_columns
from mlds_assets.core.schema import (
    ENGAGEMENT_COLUMNS,
    POST_COLUMNS,
    QUARANTINE_COLUMNS,
    TEXT,
    arrow_text,
    conform,
    text_series,
)
from mlds_assets.settings import IngestionSettings, PlatformConfig

Reason = str | Callable[[np.ndarray], np.ndarray]
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")
# Scientific notation as floating-point writers put it (Python/pandas '1e+18', Excel '1.23457E+18', JS): the
# explicit '+' keeps hexadecimal ids such as '5e3' out.
_SCIENTIFIC_ID = r"^\d(?:\.\d+)?[eE]\+\d+$"
_EXACT_FLOAT_LIMIT = 2**53  # every whole number up to here survives a float; beyond, digits may be lost
_ISO_OFFSET = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_BLANK = rf"^(?:[ {OTHER_SPACE}]|{INVISIBLE})+$"


class MappingError(ValueError):
    """The export does not fit its platform YAML as a whole (e.g. a required column is missing)."""


@dataclass
class MappedBatch:
    posts: pd.DataFrame  # conforms to POST_COLUMNS
    quarantine: pd.DataFrame  # conforms to QUARANTINE_COLUMNS
    rows_in: int
    warnings: list[str]


def map_batch(
    read: ReadResult,
    platform: PlatformConfig,
    batch_id: str,
    source_file: str,
    limits: IngestionSettings,
    now: pd.Timestamp | None = None,
) -> MappedBatch:
    now = now or pd.Timestamp.now(tz="UTC")
    records = as_text_columns(read.records.reset_index(drop=True))
    warnings = list(read.warnings)
    _check_columns(records, platform, source_file, warnings)
    native_columns = [c for c in records.columns if c != SOURCE_ROW]
    raw_json = _records_as_json(records[native_columns])

    fields: dict[str, pd.Series] = {}
    problems: list[tuple[str, pd.Series, Reason]] = []  # (field, failing mask, reason)

    for name in ("text", "author", "url", "parent_id"):
        fields[name] = _joined(records, platform.columns_for(name))
    fields["parent_id"], _ = _normalise_ids(fields["parent_id"])
    if platform.columns_for("native_id"):
        native_raw = _joined(records, platform.columns_for("native_id"))
        fields["native_id"], lossy = _normalise_ids(native_raw)
        problems.append(
            (
                "native_id",
                lossy,
                _quoted(
                    "native_id",
                    native_raw,
                    " is a floating-point number beyond 2**53: its last digits may have been lost (export ids as text)",
                ),
            )
        )
    else:
        fields["native_id"] = pd.Series([content_id(r) for r in raw_json.to_pylist()], index=records.index, dtype=TEXT)

    for name in platform.required:
        present = fields[name] if name in fields else _joined(records, platform.columns_for(name))
        missing = present.eq("")
        if name == "text":  # only zero-width or bidi characters: as empty as only spaces (NBSP included)
            blank = pc.fill_null(pc.match_substring_regex(arrow_text(present), _BLANK), False)
            missing |= pd.Series(np.asarray(blank, dtype=bool), index=present.index)
        columns = ", ".join(platform.columns_for(name)) or "(derived)"
        problems.append((name, missing, f"missing required field {name} (column {columns})"))

    created_raw = _joined(records, platform.columns_for("created_at"))
    created = parse_timestamps(created_raw, platform.created_at.format, platform.created_at.timezone)
    fields["created_at"] = created
    unparsed = created.isna() & created_raw.ne("")
    problems.append(
        (
            "created_at",
            unparsed,
            _quoted("created_at", created_raw, f" does not match format {platform.created_at.format!r}"),
        )
    )
    earliest = pd.Timestamp(limits.earliest_created_at, tz="UTC")
    latest = now + timedelta(hours=limits.future_tolerance_hours)
    problems.append(
        (
            "created_at",
            created.lt(earliest).fillna(False),
            _quoted("created_at", created_raw, f" is before earliest_created_at {limits.earliest_created_at}"),
        )
    )
    problems.append(
        ("created_at", created.gt(latest).fillna(False), _quoted("created_at", created_raw, " is in the future"))
    )

    for name in ENGAGEMENT_COLUMNS:
        raw = _joined(records, platform.columns_for(name))
        counts, bad = parse_counts(raw)
        fields[name] = counts
        problems.append((name, bad, _quoted(name, raw, " is not a non-negative whole number")))

    length = fields["text"].str.len()
    too_long = length.gt(limits.max_text_length)
    problems.append(
        (
            "text",
            too_long,
            lambda mask: (
                "text: "
                + length[mask].astype(str)
                + f" characters, longer than max_text_length {limits.max_text_length}"
            ).to_numpy(),
        )
    )

    failed = _first_failures(problems, len(records))
    ok = failed["field"].isna()
    duplicate, first_rows = _repeated_ids(fields["native_id"], ok.to_numpy(), records[SOURCE_ROW].to_numpy())
    if duplicate.any():
        failed.loc[duplicate, "field"] = "native_id"
        failed.loc[duplicate, "reason"] = [f"native_id: duplicate of row {row}" for row in first_rows.tolist()]
        ok &= ~duplicate

    label_columns = [label.column for label in platform.labels if label.column in records.columns]
    kept = records.loc[ok, [SOURCE_ROW, *label_columns]]
    posts = _posts_frame(kept, fields, ok, raw_json, platform, batch_id, source_file, now)
    quarantine = _quarantine_frame(records, failed, ~ok, raw_json, read.bad_rows, platform, batch_id, source_file, now)
    if len(posts) + len(quarantine) != read.rows_in:
        raise AssertionError(
            f"{source_file}: ledger broken: {read.rows_in} in, {len(posts)} kept, {len(quarantine)} quarantined"
        )
    return MappedBatch(posts, quarantine, read.rows_in, warnings)


# --- typing of values -------------------------------------------------------------------------------


def parse_timestamps(raw: pd.Series, fmt: str, tz: str) -> pd.Series:
    """Parse to UTC; naive values are taken in `tz` (an IANA name or a fixed offset like -05:00).

    Every timestamp leaves here with one precision, the microsecond the lake and the post store keep:
    '10:00:00.123456789Z' is truncated to .123456, an epoch float is rounded to the nearest microsecond
    (its last digits are floating-point noise). A nanosecond left in would fail the store write later."""
    values = raw.where(raw.ne(""))
    if fmt in ("epoch_s", "epoch_ms"):
        numbers = pd.to_numeric(values, errors="coerce")
        # Far outside the datetime64[ns] range (or inf), to_datetime raises OverflowError instead of coercing.
        numbers = numbers.where(numbers.abs().lt(1e11 if fmt == "epoch_s" else 1e14))
        parsed = pd.to_datetime(numbers, unit="s" if fmt == "epoch_s" else "ms", utc=True, errors="coerce")
        return parsed.dt.round("us")
    pattern = "ISO8601" if fmt == "iso" else fmt
    if fmt == "iso":
        aware = values.str.contains(_ISO_OFFSET, regex=True, na=False)
    else:
        aware = pd.Series("%z" in fmt or "%Z" in fmt, index=values.index)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if aware.any():  # offsets in the values: each is honoured, whatever they are
        parsed[aware] = pd.to_datetime(values[aware], format=pattern, errors="coerce", utc=True)
    naive = ~aware & values.notna()
    if naive.any():  # no offset: the platform's configured time zone
        local = pd.to_datetime(values[naive], format=pattern, errors="coerce")
        # A repeated wall-clock time (autumn) is taken as the first, summer-time one; a skipped one (spring)
        # moves forward: both are real posts, not bad dates.
        summer = np.ones(len(local), dtype=bool)
        localised = local.dt.tz_localize(_tzinfo(tz), ambiguous=summer, nonexistent="shift_forward")
        parsed[naive] = localised.dt.tz_convert("UTC")
    return parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").dt.floor("us")


def parse_counts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole non-negative counts ('1,094' and '3.0' accepted); returns (Int64 counts, failing mask)."""
    present = raw.ne("")
    text = pa.array(raw.str.replace(",", "", regex=False).str.strip())
    numeric = pc.match_substring_regex(text, _NUMBER)  # what float() takes, but inf and nan (never counts)
    parsed = pc.cast(pc.if_else(numeric, text, pa.scalar(None, text.type)), pa.float64())
    numbers = pd.Series(parsed.to_numpy(zero_copy_only=False), index=raw.index)
    # >= 2**63 does not fit Int64: the cast would wrap it to a negative number instead of failing
    bad = present & (numbers.isna() | numbers.lt(0) | numbers.mod(1).ne(0) | numbers.ge(2**63))
    counts = numbers.where(~bad).astype("Float64").astype("Int64")
    # Plain digits are taken exactly, not through a float: 2**63 - 1 is a valid count, and a float would
    # round it up to 2**63 (and any count beyond 2**53 to a neighbour).
    digits = pc.fill_null(pc.match_substring_regex(text, r"^\+?\d{1,19}$"), False)
    if pc.any(digits).as_py():
        exact = pc.cast(pc.utf8_ltrim(pc.if_else(digits, text, pa.scalar("0", text.type)), "+"), pa.uint64())
        exact = pd.Series(exact.to_numpy(zero_copy_only=False), index=raw.index)
        is_digits = np.asarray(digits, dtype=bool)
        fits = is_digits & (exact <= 2**63 - 1).to_numpy()
        counts = counts.where(~fits, pd.array(exact.where(fits, 0).astype("int64"), dtype="Int64"))
        bad = (bad & ~fits) | (present & is_digits & ~fits)
    return counts, bad


def _tzinfo(name: str):
    match = _OFFSET.match(name)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    return ZoneInfo(name)


# --- building blocks --------------------------------------------------------------------------------


def _check_columns(records: pd.DataFrame, platform: PlatformConfig, source_file: str, warnings: list[str]) -> None:
    if len(records.columns) <= 1:  # only SOURCE_ROW: a header-only or empty export
        return
    found = [c for c in records.columns if c != SOURCE_ROW]
    for field in platform.fields:
        columns = platform.columns_for(field)
        absent = [c for c in columns if c not in records.columns]
        if not absent:
            continue
        if field in platform.required and len(absent) == len(columns):  # a joined field needs one of its columns
            raise MappingError(
                f"{source_file}: required column(s) {absent} for field {field!r} missing from the file; "
                f"columns found: {found[:20]}"
            )
        kind = "required field" if field in platform.required else "optional field"
        warnings.append(f"{source_file}: column(s) {absent} for {kind} {field!r} not in the file")


def _joined(records: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The stripped text of one column, or several joined by newlines (empty parts skipped)."""
    present = [pc.utf8_trim_whitespace(arrow_text(records[c])) for c in columns if c in records.columns]
    if not present:
        return pd.Series("", index=records.index, dtype=TEXT)
    result = present[0]
    for part in present[1:]:
        either = pc.if_else(pc.equal(part, ""), result, part)  # the non-empty one (result when both are empty)
        both = pc.and_(pc.not_equal(result, ""), pc.not_equal(part, ""))
        result = pc.if_else(both, pc.binary_join_element_wise(result, part, pa.scalar("\n", result.type)), either)
    return text_series(result, index=records.index)


def _normalise_ids(ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Ids that an upstream tool read as floats are whole numbers again, so '3.0', '1e+18' and the digits
    are one post: ('3.0' -> '3', '1e+18' -> '1000000000000000000'). Returns (ids, lossy): lossy marks ids
    in scientific notation beyond 2**53, whose digits a float may already have lost; they are left as
    they are, for the caller to quarantine. Everything else is left alone."""
    lossy = pd.Series(False, index=ids.index)
    floaty = ids.str.endswith(".0")
    if floaty.any():
        ids = ids.where(~floaty, ids[floaty].str.replace(_FLOAT_ID, r"\1", regex=True))
    scientific = ids.str.contains(_SCIENTIFIC_ID, regex=True)
    if scientific.any():
        numbers = ids[scientific].map(Decimal)
        whole = numbers.map(lambda d: d == d.to_integral_value() and d.adjusted() < 40)
        exact = whole & numbers.map(lambda d: d <= _EXACT_FLOAT_LIMIT)
        digits = numbers[exact].map(lambda d: str(int(d)))
        ids = ids.astype(object)
        ids[digits.index] = digits
        ids = ids.astype(TEXT)
        lossy[whole[whole & ~exact].index] = True
    return ids, lossy


def _records_as_json(records: pd.DataFrame) -> pa.ChunkedArray:
    """Each record as a JSON object, in order. DuckDB's to_json is ~10x faster than pandas' here."""
    if len(records) == 0 or len(records.columns) == 0:
        return pa.chunked_array([pa.array(["{}"] * len(records), pa.string())])
    frame = records.reset_index(drop=True)  # noqa: F841 (scanned by DuckDB below)
    with duckdb.connect() as con:
        table = con.sql("SELECT to_json(t)::VARCHAR AS record FROM frame AS t").to_arrow_table()
    return table.column("record")


def _quoted(field: str, raw: pd.Series, rest: str) -> Callable[[np.ndarray], np.ndarray]:
    """A reason that quotes the offending value, built only for the rows that failed."""
    return lambda mask: (f"{field}: '" + raw[mask].str.slice(0, 80) + "'" + rest).to_numpy()


def _repeated_ids(native_ids: pd.Series, ok: np.ndarray, source_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (among those that passed) whose native id an earlier passing row already has, and that earlier
    row's source row for each: the first one is kept, the repeats are quarantined."""
    codes, _ = pd.factorize(native_ids)
    passed = np.flatnonzero(ok)
    distinct_codes, first = np.unique(codes[passed], return_index=True)
    repeat = np.ones(len(passed), dtype=bool)
    repeat[first] = False
    duplicate = np.zeros(len(native_ids), dtype=bool)
    duplicate[passed[repeat]] = True
    first_row_of_code = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=np.int64)
    first_row_of_code[distinct_codes] = source_rows[passed[first]]
    return duplicate, first_row_of_code[codes[duplicate]]


def _first_failures(problems: list[tuple[str, pd.Series, Reason]], n: int) -> pd.DataFrame:
    field = pd.Series([None] * n, dtype=object)
    reasons = pd.Series([""] * n, dtype=object)
    for name, mask, reason in problems:
        mask = mask.fillna(False).to_numpy(dtype=bool)
        if not mask.any():
            continue
        text = reason(mask) if callable(reason) else reason
        field[mask & field.isna().to_numpy()] = name
        current = reasons[mask]
        reasons[mask] = np.where(current.eq(""), text, current + "; " + text)
    return pd.DataFrame({"field": field, "reason": reasons})


def _posts_frame(
    kept: pd.DataFrame,
    fields: dict[str, pd.Series],
    ok: pd.Series,
    raw_json: list[str],
    platform: PlatformConfig,
    batch_id: str,
    source_file: str,
    now: pd.Timestamp,
) -> pd.DataFrame:
    mask = ok.to_numpy()
    keep = pa.array(mask)  # Arrow filters text with an Arrow mask ~50x faster than with a NumPy one

    def kept_values(name: str) -> pd.Series:
        values = fields[name]
        if values.dtype == TEXT:
            return text_series(pa.array(values).filter(keep))
        return values[mask].reset_index(drop=True)

    native, parent = kept_values("native_id"), kept_values("parent_id")
    posts = pd.DataFrame(
        {
            "post_id": text_series(post_ids(platform.name, pa.array(native))),
            "platform": platform.name,
            "native_id": native,
            "batch_id": batch_id,
            "source_file": source_file,
            "source_row": kept[SOURCE_ROW].to_numpy(),
            "text": kept_values("text"),
            "author": kept_values("author").replace("", None),
            "created_at": kept_values("created_at"),
            "parent_id": parent.replace("", None),
            "parent_post_id": _parent_post_ids(platform.name, parent),
            "url": kept_values("url").replace("", None),
            **{name: kept_values(name) for name in ENGAGEMENT_COLUMNS},
            "labels": _labels(kept, platform),
            "raw_record": text_series(raw_json.filter(keep)),
            "ingested_at": now,
        }
    )
    return conform(posts, POST_COLUMNS)


def _parent_post_ids(platform: str, parent: pd.Series) -> pd.Series:
    return text_series(post_ids(platform, pa.array(parent.replace("", None))))


def _labels(kept: pd.DataFrame, platform: PlatformConfig) -> list[str]:
    """Label values by column, as a JSON object: {"author_id": "AppleSupport"}."""
    columns = [label.column for label in platform.labels if label.column in kept.columns]
    if not columns:
        return ["{}"] * len(kept)
    values = zip(*(kept[c].str.strip() for c in columns), strict=True)
    return [json.dumps({c: v for c, v in zip(columns, row, strict=True) if v}, ensure_ascii=False) for row in values]


def _quarantine_frame(
    records: pd.DataFrame,
    failed: pd.DataFrame,
    bad: pd.Series,
    raw_json: list[str],
    reader_bad: pd.DataFrame,
    platform: PlatformConfig,
    batch_id: str,
    source_file: str,
    now: pd.Timestamp,
) -> pd.DataFrame:
    mask = bad.to_numpy()
    mapped = pd.DataFrame(
        {
            "source_row": records[SOURCE_ROW].to_numpy()[mask],
            "field": failed["field"].to_numpy()[mask],
            "reason": failed["reason"].to_numpy()[mask],
            "raw_record": text_series(raw_json.filter(pa.array(mask))),
        }
    )
    unreadable = pd.DataFrame(
        {
            "source_row": reader_bad[SOURCE_ROW].to_numpy(),
            "field": "record",
            "reason": reader_bad["reason"].to_numpy(),
            "raw_record": reader_bad["raw_record"].to_numpy(),
        }
    )
    frames = [f for f in (mapped, unreadable) if len(f)]
    quarantine = pd.concat(frames, ignore_index=True) if frames else mapped
    quarantine = quarantine.assign(
        platform=platform.name, batch_id=batch_id, source_file=source_file, quarantined_at=now
    )
    return conform(quarantine.sort_values("source_row", kind="stable").reset_index(drop=True), QUARANTINE_COLUMNS)
