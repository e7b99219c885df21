"""Text cleaning for posts: normalised text plus the features social text carries (links, @, #, emoji)."""

from __future__ import annotations

import html
import re
import string
import unicodedata

import emoji
import pandas as pd

URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+|\{link\}", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w@])@(\w{1,30})")
HASHTAG = re.compile(r"(?<![\w#&])#(\w*[^\W\d_]\w*)")
# Invisible characters that split words without looking like it (zero-width space, BOM, word joiner, C0 controls).
_INVISIBLE = dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF])
_KEY_PUNCTUATION = string.punctuation.replace("@", "").replace("#", "")
_PUNCTUATION = str.maketrans(dict.fromkeys(_KEY_PUNCTUATION, " "))
_ASCII_PUNCTUATION = bytes.maketrans(_KEY_PUNCTUATION.encode(), b" " * len(_KEY_PUNCTUATION))


def _emoji_pattern() -> re.Pattern[str]:
    """One compiled regex over the emoji package's own code points: flags, keycaps, and base emoji with
    variation selectors, skin tones and ZWJ joins. ~20x faster than emoji.distinct_emoji_list per post."""
    singles = sorted({ord(e[0]) for e in emoji.EMOJI_DATA if ord(e[0]) > 0x7F and not 0x1F1E6 <= ord(e[0]) <= 0x1F1FF})
    ranges, start = [], singles[0]
    for previous, current in zip(singles, [*singles[1:], None], strict=True):
        if current != previous + 1:  # close a run of consecutive code points: a short class is a fast class
            ranges.append(re.escape(chr(start)) + ("-" + re.escape(chr(previous)) if previous > start else ""))
            start = current
    base = "".join(ranges)
    modifier = r"(?:\uFE0F|[\U0001F3FB-\U0001F3FF])?"
    return re.compile(
        r"[\U0001F1E6-\U0001F1FF]{2}"
        r"|[#*0-9]\uFE0F?\u20E3"
        rf"|[{base}]{modifier}(?:\u200D[{base}]{modifier})*[\U000E0020-\U000E007F]*"
    )


EMOJI = _emoji_pattern()

CLEANED_EXTRA_COLUMNS = ("clean_text", "urls", "mentions", "hashtags", "emoji", "near_duplicate_of")


def normalise(text: str) -> str:
    """HTML entities decoded, NFKC, invisible characters dropped, whitespace runs collapsed to one space."""
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = " ".join(text.split())
    return text if text.isprintable() else text.translate(_INVISIBLE)  # ASCII control characters


def _features(text: str) -> tuple[str, list[str], list[str], list[str], list[str], str]:
    # One pass per post, each feature behind a cheap test of whether it can be present at all: this is
    # the hot loop of the fast path (see make bench).
    clean = normalise(text)
    urls = URL.findall(clean) if ("//" in clean or "www." in clean or "{link}" in clean) else []
    mentions = [m.lower() for m in MENTION.findall(clean)] if "@" in clean else []
    hashtags = [h.lower() for h in HASHTAG.findall(clean)] if "#" in clean else []
    emojis = list(dict.fromkeys(EMOJI.findall(clean))) if not clean.isascii() else []
    return clean, urls, mentions, hashtags, emojis, _duplicate_key(URL.sub(" ", clean) if urls else clean)


def _duplicate_key(text: str) -> str:
    """Lower case, punctuation as spaces, single spaces: copies that differ only in those collide."""
    if text.isascii():
        return " ".join(text.lower().encode().translate(_ASCII_PUNCTUATION).decode().split())
    return " ".join(text.lower().translate(_PUNCTUATION).split())


def normalise_text(text: pd.Series) -> pd.Series:
    return pd.Series([normalise(t) for t in text.fillna("").astype(str)], index=text.index, dtype=object)


def near_duplicate_of(key: pd.Series, post_id: pd.Series, min_chars: int) -> pd.Series:
    """post_id of the first post in the batch with the same text once links, case and punctuation go.

    Flagged, not removed: reposts and copy-paste campaigns are signal for analysts.
    """
    key = key.where(key.str.len() >= min_chars)
    repeated = key.notna() & key.duplicated(keep="first")
    flags = pd.Series(pd.NA, index=key.index, dtype="string")
    if repeated.any():
        originals = ~repeated & key.isin(set(key[repeated]))
        first_id = dict(zip(key[originals], post_id[originals], strict=True))
        flags[repeated] = key[repeated].map(first_id)
    return flags


def clean_posts(posts: pd.DataFrame, near_duplicate_min_chars: int = 20) -> pd.DataFrame:
    """Canonical posts (without their raw record) plus cleaned text and features; one row per post_id."""
    if posts["post_id"].duplicated().any():  # raw_posts quarantines duplicates; this would be a bug upstream
        raise ValueError(f"duplicate post_id in input: {posts.loc[posts['post_id'].duplicated(), 'post_id'].iloc[0]}")
    cleaned = posts.drop(columns=["raw_record"], errors="ignore").reset_index(drop=True)
    texts = cleaned["text"].fillna("").astype(str).tolist()
    clean, urls, mentions, hashtags, emojis, keys = zip(*map(_features, texts), strict=True) if texts else ([],) * 6
    cleaned["clean_text"] = pd.array(clean, dtype="string")
    cleaned["urls"] = list(urls)
    cleaned["mentions"] = list(mentions)
    cleaned["hashtags"] = list(hashtags)
    cleaned["emoji"] = list(emojis)
    key = pd.Series(keys, dtype=object)
    cleaned["near_duplicate_of"] = near_duplicate_of(key, cleaned["post_id"], near_duplicate_min_chars)
    return cleaned
