"""Text cleaning for posts: normalised text plus the features social text carries (links, @, #, emoji)."""

from __future__ import annotations

import html
import re

import emoji
import pandas as pd

URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+|\{link\}", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w@])@(\w{1,30})")
HASHTAG = re.compile(r"(?<![\w#&])#(\w*[^\W\d_]\w*)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_NOT_WORD = re.compile(r"[^\w@#]+")

CLEANED_EXTRA_COLUMNS = ("clean_text", "urls", "mentions", "hashtags", "emoji", "near_duplicate_of")


def normalise_text(text: pd.Series) -> pd.Series:
    """HTML entities decoded, NFKC, invisible characters dropped, runs of spaces collapsed."""
    text = text.fillna("").astype(str)
    has_entity = text.str.contains("&", regex=False)
    if has_entity.any():
        text = text.where(~has_entity, text[has_entity].map(html.unescape))
    text = text.str.normalize("NFKC")
    text = text.str.replace(_CONTROL, "", regex=True)
    text = text.str.replace(_SPACES, " ", regex=True)
    return text.str.replace(_NEWLINES, "\n", regex=True).str.strip()


def extract_emoji(text: pd.Series) -> pd.Series:
    # Only non-ASCII texts can hold an emoji: most posts skip the per-row scan.
    found = pd.Series([[] for _ in range(len(text))], index=text.index, dtype=object)
    non_ascii = ~text.map(str.isascii)
    if non_ascii.any():
        found[non_ascii] = text[non_ascii].map(emoji.distinct_emoji_list)
    return found


def near_duplicate_of(clean_text: pd.Series, post_id: pd.Series, min_chars: int) -> pd.Series:
    """post_id of the first post in the batch with the same text once links, case and punctuation go.

    Flagged, not removed: reposts and copy-paste campaigns are signal for analysts.
    """
    key = clean_text.str.replace(URL, " ", regex=True).str.lower().str.replace(_NOT_WORD, " ", regex=True).str.strip()
    key = key.where(key.str.len() >= min_chars)
    first = post_id.groupby(key).transform("first")
    return first.where(key.notna() & key.duplicated(keep="first"))


def clean_posts(posts: pd.DataFrame, near_duplicate_min_chars: int = 20) -> pd.DataFrame:
    """Canonical posts (without their raw record) plus cleaned text and features; one row per post_id."""
    if posts["post_id"].duplicated().any():  # raw_posts quarantines duplicates; this would be a bug upstream
        raise ValueError(f"duplicate post_id in input: {posts.loc[posts['post_id'].duplicated(), 'post_id'].iloc[0]}")
    cleaned = posts.drop(columns=["raw_record"], errors="ignore").reset_index(drop=True)
    text = normalise_text(cleaned["text"])
    cleaned["clean_text"] = text.astype("string")
    cleaned["urls"] = text.str.findall(URL)
    cleaned["mentions"] = text.str.findall(MENTION).map(lambda found: [m.lower() for m in found])
    cleaned["hashtags"] = text.str.findall(HASHTAG).map(lambda found: [h.lower() for h in found])
    cleaned["emoji"] = extract_emoji(text)
    cleaned["near_duplicate_of"] = near_duplicate_of(text, cleaned["post_id"], near_duplicate_min_chars).astype("string")
    return cleaned
