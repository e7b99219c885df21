"""Text cleaning for posts: normalised text plus the features social text carries (links, @, #, emoji).

Column at a time: normalisation in Arrow compute, extraction and near-duplicate keys in one DuckDB query.
Both use RE2, whose `\\w` and `\\s` are ASCII only, so the patterns spell out the Unicode classes Python's
`re` would use. A per-post Python loop doing the same work was most of the fast path's time (make bench).
"""

from __future__ import annotations

import html

import emoji
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlds_assets.core.schema import arrow_text, text_series

_WORD = r"\pL\pN_"  # Python's \w
_LETTER = r"\pL\p{Nl}\p{No}"  # Python's [^\W\d_]
URL = r"(?i)(?:https?://|www\.)[^\s<>\"']+|\{link\}"
# Not inside an e-mail address or after another @. A handle is at most 30 characters; the cut is made in SQL,
# since a counted repeat of a Unicode class makes RE2 fifteen times slower.
MENTION = rf"(?:^|[^{_WORD}@])@([{_WORD}]+)"
HASHTAG = rf"(?:^|[^{_WORD}#&])#([{_WORD}]*[{_LETTER}][{_WORD}]*)"  # a letter somewhere; not "&#39;", not "C#"
# Invisible characters that split words without looking like it (zero-width space, BOM, word joiner, C0 controls),
# and the bidirectional marks, embeddings, overrides and isolates, which reorder what a reader sees (U+202E).
INVISIBLE = r"[\x00-\x08\x0e-\x1b\x7f\x{200b}-\x{200f}\x{2060}\x{feff}\x{061c}\x{202a}-\x{202e}\x{2066}-\x{2069}]"
# Python's str.split() whitespace. A single plain space is left alone: replacing it with itself is the slow part.
OTHER_SPACE = r"\t\n\x0b\f\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
WHITESPACE_RUN = rf"[ {OTHER_SPACE}]{{2,}}|[{OTHER_SPACE}]"
# ASCII punctuation (but @ and #) with the spaces around it, or runs of spaces: what a near-duplicate key
# ignores. Single spaces between words are not matched: rewriting every one of them is what is slow.
_PUNCT = r"!\"$%&'()*+,\-./:;<=>?\[\\\]^_`{|}~"
PUNCTUATION_OR_SPACE = rf" *[{_PUNCT}][ {_PUNCT}]*| {{2,}}"


def _emoji_pattern() -> str:
    """The emoji package's own code points as an RE2 pattern: flags, keycaps, and base emoji with variation
    selectors, skin tones and ZWJ joins. Consecutive code points become ranges: a short class is a fast one."""
    singles = sorted({ord(e[0]) for e in emoji.EMOJI_DATA if ord(e[0]) > 0x7F and not 0x1F1E6 <= ord(e[0]) <= 0x1F1FF})
    ranges, start = [], singles[0]
    for previous, current in zip(singles, [*singles[1:], None], strict=True):
        if current != previous + 1:
            ranges.append(rf"\x{{{start:x}}}" + (rf"-\x{{{previous:x}}}" if previous > start else ""))
            start = current
    base = "[" + "".join(ranges) + "]"
    modifier = r"(?:\x{fe0f}|[\x{1f3fb}-\x{1f3ff}])?"
    return (
        r"[\x{1f1e6}-\x{1f1ff}]{2}"
        r"|[#*0-9]\x{fe0f}?\x{20e3}"
        rf"|{base}{modifier}(?:\x{{200d}}{base}{modifier})*[\x{{e0020}}-\x{{e007f}}]*"
    )


EMOJI = _emoji_pattern()

CLEANED_EXTRA_COLUMNS = ("clean_text", "urls", "mentions", "hashtags", "emoji", "near_duplicate_of")
FEATURE_LIST_TYPE = pd.ArrowDtype(pa.list_(pa.string()))

_FEATURES_SQL = """
WITH texts AS (
    SELECT
        row_number,
        post_id,
        clean_text,
        lower(clean_text) AS lower_text,
        contains(clean_text, '//') OR contains(lower(clean_text), 'www.') OR contains(clean_text, '{link}') AS linked
    FROM posts
), features AS (
    -- Each pattern only where its marker is present: the cheap test keeps RE2 off most rows.
    SELECT
        row_number,
        post_id,
        CASE WHEN linked THEN regexp_extract_all(clean_text, $url) ELSE [] END AS urls,
        CASE WHEN contains(clean_text, '@')
             THEN list_transform(regexp_extract_all(lower_text, $mention, 1), lambda m: left(m, 30))
             ELSE [] END AS mentions,
        CASE WHEN contains(clean_text, '#') THEN regexp_extract_all(lower_text, $hashtag, 1) ELSE [] END AS hashtags,
        regexp_extract_all(clean_text, $emoji) AS emoji_all,
        trim(regexp_replace(
            CASE WHEN linked THEN regexp_replace(lower_text, $url, ' ', 'g') ELSE lower_text END,
            $punctuation_or_space, ' ', 'g'
        )) AS duplicate_key
    FROM texts
)
SELECT
    urls,
    mentions,
    hashtags,
    list_filter(emoji_all, lambda e, i: list_position(emoji_all, e) = i) AS emoji,
    CASE WHEN length(duplicate_key) >= $min_chars
              AND row_number() OVER (PARTITION BY duplicate_key ORDER BY row_number) > 1
         THEN first(post_id) OVER (PARTITION BY duplicate_key ORDER BY row_number)
    END AS near_duplicate_of
FROM features
ORDER BY row_number
"""


def feature_lists(column: pd.Series) -> list[list[str]]:
    """A feature column as Python lists, missing as []. Arrow-backed columns convert in one call, about five
    times faster than iterating the pandas Series."""
    if isinstance(column.dtype, pd.ArrowDtype):
        values = pa.array(column).to_pylist()
    else:  # object columns (Parquet read without the lake's IO manager): arrays or lists per row
        values = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in column]
    return [v if v is not None else [] for v in values]


def feature_arrow(column: pd.Series) -> pa.ListArray | pa.ChunkedArray:
    """A feature column as an Arrow list<string> array, missing as []: no Python list per row."""
    if isinstance(column.dtype, pd.ArrowDtype):
        values = pa.array(column)
    else:
        values = pa.array(feature_lists(column), FEATURE_LIST_TYPE.pyarrow_dtype)
    if values.null_count:
        values = pc.if_else(pc.is_null(values), pa.scalar([], FEATURE_LIST_TYPE.pyarrow_dtype), values)
    return values


def as_feature_column(column: pd.Series) -> pd.Series:
    """The Arrow-backed form of a feature column, the one Parquet and the stores take fastest."""
    return pd.Series(feature_arrow(column), index=column.index, dtype=FEATURE_LIST_TYPE)


def share_nonempty(column: pd.Series) -> float:
    """Share of rows whose feature list is not empty (0.0 for no rows)."""
    if not len(column):
        return 0.0
    return float(pc.mean(pc.greater(pc.list_value_length(feature_arrow(column)), 0)).as_py())


def normalise(texts: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """HTML entities decoded, NFKC, invisible characters dropped, whitespace runs collapsed to one space."""
    texts = pc.fill_null(texts, "")
    entities = pc.match_substring_regex(texts, r"&(?:#\d+|#[xX][0-9a-fA-F]+|\w+);")
    if pc.any(entities).as_py():  # rare, and html.unescape knows every named entity: Python for those rows only
        texts = pa.chunked_array([texts]).combine_chunks() if isinstance(texts, pa.Array) else texts.combine_chunks()
        entities = pa.chunked_array([entities]).combine_chunks()
        unescaped = pa.array([html.unescape(v) for v in texts.filter(entities).to_pylist()], texts.type)
        texts = pc.replace_with_mask(texts, entities, unescaped)
    texts = pc.utf8_normalize(texts, "NFKC")
    texts = pc.replace_substring_regex(texts, INVISIBLE, "")
    texts = pc.replace_substring_regex(texts, WHITESPACE_RUN, " ")
    return pa.chunked_array([pc.utf8_trim(texts, " ")])


def clean_posts(posts: pd.DataFrame, near_duplicate_min_chars: int = 20) -> pd.DataFrame:
    """Canonical posts (without their raw record) plus cleaned text and features; one row per post_id.

    Near-duplicates (the same text once links, case and punctuation go) point at the batch's first such
    post: flagged, not removed, since reposts and copy-paste campaigns are signal for analysts.
    """
    if posts["post_id"].duplicated().any():  # raw_posts quarantines duplicates; this would be a bug upstream
        raise ValueError(f"duplicate post_id in input: {posts.loc[posts['post_id'].duplicated(), 'post_id'].iloc[0]}")
    cleaned = posts.drop(columns=["raw_record"], errors="ignore").reset_index(drop=True)
    clean_text = normalise(arrow_text(cleaned["text"]))
    table = pa.table(
        {
            "row_number": pa.array(range(len(cleaned)), pa.int64()),
            "post_id": arrow_text(cleaned["post_id"]),
            "clean_text": clean_text,
        }
    )
    params = {"url": URL, "mention": MENTION, "hashtag": HASHTAG, "emoji": EMOJI,
              "punctuation_or_space": PUNCTUATION_OR_SPACE, "min_chars": near_duplicate_min_chars}  # fmt: skip
    import duckdb  # here, not at the top: every CLI command imports this module (0.1 s)

    with duckdb.connect() as con:
        con.register("posts", table)
        features = con.sql(_FEATURES_SQL, params=params).to_arrow_table()
    cleaned["clean_text"] = text_series(clean_text)
    for column in ("urls", "mentions", "hashtags", "emoji"):
        cleaned[column] = pd.Series(features[column].cast(FEATURE_LIST_TYPE.pyarrow_dtype), dtype=FEATURE_LIST_TYPE)
    cleaned["near_duplicate_of"] = text_series(features["near_duplicate_of"])
    return cleaned
