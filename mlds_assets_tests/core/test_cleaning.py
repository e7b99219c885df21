"""clean_posts: normalised text plus links, mentions, hashtags, emoji and near-duplicate flags."""

from __future__ import annotations

import pandas as pd
import pytest

from mlds_assets.core.cleaning import CLEANED_EXTRA_COLUMNS, clean_posts


def posts(*texts: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": [f"id-{i}" for i in range(len(texts))],
            "text": list(texts),
            "author": "someone",
            "raw_record": "{}",
        }
    )


def clean_one(text: str) -> pd.Series:
    return clean_posts(posts(text)).iloc[0]


def test_adds_feature_columns_and_drops_raw_record():
    cleaned = clean_posts(posts("hello"))
    assert set(CLEANED_EXTRA_COLUMNS) <= set(cleaned.columns)
    assert "raw_record" not in cleaned.columns
    assert cleaned["author"].tolist() == ["someone"]  # canonical columns carried through
    assert cleaned["text"].tolist() == ["hello"]  # the original text is kept beside the clean one


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Fish &amp; chips &lt;3 it&#39;s &quot;great&quot;", 'Fish & chips <3 it\'s "great"'),
        ("  lots   of\t\tspace  ", "lots of space"),
        ("zero\u200bwidth\u200c join\u200der\u2060 \ufeffbom", "zerowidth joiner bom"),
        ("nul\x00 char", "nul char"),
        ("esc\x1b[0m \x0eshift\x7f", "esc[0m shift"),  # other C0 controls and DEL, ASCII text
        ("é\x1b\x08", "é"),  # and in non-ASCII text
        ("two\x0bthree\x0c four", "two three four"),  # whitespace controls are whitespace
        ("ﬁne ｆｕｌｌ", "fine full"),  # NFKC: ligature and full-width letters
        ("a\u00a0b", "a b"),
        ("evil\u202etxt.exe \u2066iso\u2069 \u200eltr\u200f", "eviltxt.exe iso ltr"),  # bidi controls (issue 15)
    ],
)
def test_normalised_text(raw, clean):
    assert clean_one(raw)["clean_text"] == clean


def test_missing_text_is_empty_clean_text():
    frame = posts("x", "y")
    frame.loc[1, "text"] = None
    assert clean_posts(frame)["clean_text"].tolist() == ["x", ""]


def test_urls_mentions_hashtags_emoji_extracted():
    row = clean_one("@AppleSupport my #iPhone broke 😡 see https://t.co/AbC?x=1 and www.example.com/p 👍 #Fail #2024")
    assert row["urls"] == ["https://t.co/AbC?x=1", "www.example.com/p"]
    assert row["mentions"] == ["applesupport"]
    assert row["hashtags"] == ["iphone", "fail"]  # lower-cased; "#2024" has no letter, so no hashtag
    assert sorted(row["emoji"]) == sorted(["😡", "👍"])


def test_no_features_in_plain_text():
    row = clean_one("just words, nothing else")
    assert (row["urls"], row["mentions"], row["hashtags"], row["emoji"]) == ([], [], [], [])


def test_email_is_not_a_mention_and_anchors_are_not_hashtags():
    row = clean_one("mail me@example.com or see page#section and C# code")
    assert row["mentions"] == []
    assert row["hashtags"] == []


def test_html_entity_is_not_a_hashtag():
    row = clean_one("it&#39;s #Nike and it&amp;#x27;s not a tag")
    assert row["hashtags"] == ["nike"]  # neither "39" nor "x27"
    assert row["clean_text"].startswith("it's #Nike")


def test_near_duplicate_points_at_first_post():
    text = "Huge sale on running shoes today only"
    cleaned = clean_posts(
        posts(
            text,
            "something else entirely, long enough",
            "HUGE sale on running-shoes, today only!! https://t.co/x",
            text,
        )
    )
    assert cleaned["near_duplicate_of"].isna().tolist() == [True, True, False, False]
    assert cleaned["near_duplicate_of"].tolist()[2:] == ["id-0", "id-0"]


def test_short_texts_are_never_near_duplicates():
    cleaned = clean_posts(posts("thanks!", "Thanks", "thanks!!!", "ok", "ok"))
    assert cleaned["near_duplicate_of"].isna().all()


def test_near_duplicate_threshold_is_configurable():
    cleaned = clean_posts(posts("thanks a lot", "Thanks a lot!"), near_duplicate_min_chars=5)
    assert cleaned["near_duplicate_of"].tolist()[1] == "id-0"


def test_duplicate_post_id_input_raises():
    frame = posts("a", "b")
    frame["post_id"] = "same"
    with pytest.raises(ValueError, match="duplicate post_id"):
        clean_posts(frame)


def test_empty_frame():
    cleaned = clean_posts(posts())
    assert len(cleaned) == 0
    assert set(CLEANED_EXTRA_COLUMNS) <= set(cleaned.columns)


def test_unicode_handles_and_hashtags_are_whole_words():
    # RE2's \w is ASCII only; the patterns spell out Unicode letters so "José" is not cut to "jos".
    row = clean_one("@José loves #Café and #東京 ❤️ 👍🏽 🇫🇷")
    assert row["mentions"] == ["josé"]
    assert row["hashtags"] == ["café", "東京"]
    assert sorted(row["emoji"]) == sorted(["❤️", "👍🏽", "🇫🇷"])


def test_handle_is_cut_at_thirty_characters():
    assert clean_one("@" + "a" * 40 + " hi")["mentions"] == ["a" * 30]


def test_repeated_emoji_listed_once_in_first_seen_order():
    assert clean_one("🔥 great 👍 🔥🔥")["emoji"] == ["🔥", "👍"]
