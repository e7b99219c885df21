"""Demo exports: realistic platform files in each platform's native shape, with a few deliberately dirty rows.

`mlds demo` drops one export per platform into the inbox; the benchmark uses `generate_facebook_csv` at
100k and 1M rows. Every file has exactly the columns/keys its platform YAML maps (`config/platforms/*.yaml`)
and texts that name brands from `config/entities.yaml` by alias, @handle and #hashtag.

Deterministic: the same seed and `now` give byte-identical files. Timestamps fall in the 30 days before
`now` (default: the start of the current UTC day, so that runs on one day agree), so none is in the future.
Files are written to `<name>.tmp` and then renamed, so the inbox sensor (which ignores `.tmp`) never sees
half a file.

Dirty rows are few, fixed in number and clearly invalid, so that the pipeline quarantines exactly them:
an empty required text or a missing id, an unparseable date, a negative and a non-numeric like count,
an exact duplicate of an earlier record and, for TikTok, one truncated JSON line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from string import Formatter

import numpy as np
import pandas as pd

DEMO_PLATFORMS = ("facebook", "instagram", "tiktok", "customer_care")
EXTENSIONS = {"facebook": "csv", "instagram": "json", "tiktok": "jsonl", "customer_care": "csv"}
WINDOW_SECONDS = 30 * 24 * 3600  # timestamps fall in the 30 days before `now`
MIN_DIRTY_ROWS = 12  # the fewest records a file with dirty rows can hold
BAD_DATE = "not a date"
BAD_COUNT = "lots"

FACEBOOK_COLUMNS = (
    "status_id", "status_message", "link_name", "status_type", "status_link", "status_published",
    "num_likes", "num_comments", "num_shares", "page_name",
)  # fmt: skip
CUSTOMER_CARE_COLUMNS = (
    "tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id", "in_response_to_tweet_id",
)  # fmt: skip


@dataclass
class DemoExport:
    platform: str
    path: Path
    rows: int  # records written, including dirty ones (for JSONL: non-blank lines)
    dirty_rows: int  # how many of them are deliberately invalid


@dataclass(frozen=True)
class Brand:
    """One brand as the demo writes it: every surface form is in config/entities.yaml."""

    entity_id: str
    name: str  # the entity's canonical name (TikTok sponsored sounds label with it)
    aliases: tuple[str, ...]
    handles: tuple[str, ...]
    hashtags: tuple[str, ...]
    products: tuple[str, ...]
    page: tuple[str, str]  # Facebook page (page_name, page id)
    support: str | None = None  # customer-care account (author_id) on Twitter/X


BRANDS = (
    Brand("nike", "Nike", ("Nike", "Nike Inc"), ("nike", "nikesupport"), ("nike", "justdoit"),
          ("running shoes", "Air Max", "hoodie"), ("Nike", "15087023444")),
    Brand("adidas", "Adidas", ("Adidas", "adidas"), ("adidas",), ("adidas",),
          ("Ultraboost", "sneakers", "track jacket"), ("adidas", "182162001806727")),
    Brand("apple", "Apple", ("Apple", "Apple Inc"), ("apple", "applesupport"), ("apple",),
          ("iPhone", "iPad", "MacBook", "AirPods"), ("Apple", "434174436675167"), "AppleSupport"),
    Brand("google", "Google", ("Google",), ("google", "googlesupport"), ("google",),
          ("Pixel", "Android phone", "Google Maps"), ("Google", "104958162837")),
    Brand("amazon", "Amazon", ("Amazon",), ("amazon", "amazonhelp"), ("amazon", "prime"),
          ("Prime delivery", "package", "Kindle"), ("Amazon", "9465008123"), "AmazonHelp"),
    Brand("spotify", "Spotify", ("Spotify",), ("spotify", "spotifycares"), ("spotify",),
          ("playlist", "Premium plan", "podcast app"), ("Spotify", "6243987495"), "SpotifyCares"),
    Brand("uber", "Uber", ("Uber",), ("uber", "uber_support"), ("uber",),
          ("ride", "Uber Eats order", "driver app"), ("Uber", "200526416641706"), "Uber_Support"),
    Brand("delta", "Delta Air Lines", ("Delta Air Lines", "Delta Airlines"), ("delta",), ("flydelta",),
          ("flight", "checked bag", "upgrade"), ("Delta", "179003952107"), "Delta"),
    Brand("british_airways", "British Airways", ("British Airways",), ("british_airways",), ("britishairways",),
          ("flight", "lounge", "Avios booking"), ("British Airways", "126154134061")),
    Brand("comcast", "Comcast", ("Comcast", "Xfinity"), ("comcastcares", "xfinity"), ("comcast", "xfinity"),
          ("internet", "cable box", "Wi-Fi"), ("Xfinity", "108011052574233"), "comcastcares"),
    Brand("chipotle", "Chipotle", ("Chipotle",), ("chipotletweets",), ("chipotle",),
          ("burrito bowl", "guac", "order"), ("Chipotle", "14963747297"), "ChipotleTweets"),
    Brand("starbucks", "Starbucks", ("Starbucks",), ("starbucks",), ("starbucks",),
          ("latte", "cold brew", "app order"), ("Starbucks", "22092443056")),
    Brand("tesla", "Tesla", ("Tesla",), ("tesla",), ("tesla",),
          ("Model 3", "Model Y", "Autopilot update"), ("Tesla", "1637453683196062")),
    Brand("new_york_times", "The New York Times", ("New York Times", "The New York Times", "NYTimes"), ("nytimes",),
          ("nytimes",), ("subscription", "crossword", "morning briefing"), ("The New York Times", "5281959998")),
)  # fmt: skip
PEOPLE = ("Donald Trump", "Donald J. Trump", "Hillary Clinton", "Hillary Rodham Clinton")
EMOJI = {
    "pos": ("😍", "🔥", "👍", "🙌", "💯", "😊", "🎉"),
    "neg": ("😡", "🙄", "😤", "👎", "😭", "🤦"),
    "neu": ("🤔", "👀", "📦", "☕", "🎧", "📸"),
}

# (sentiment, template): fields are filled per row; {alias} {handle} {tag} {product} {n} {person} {url}.
FACEBOOK_TEMPLATES = (
    ("pos", "Introducing the all-new {product} from {alias}. Available today: {url}"),
    ("pos", "Thank you for {n} million followers! We couldn't have done it without you. #{tag}"),
    ("pos", "Our {product} just won best of the year. Tag a friend who needs one! #{tag}"),
    ("pos", "{n} days until the {product} is back. Who's ready? #{tag}"),
    ("neu", "How do you use your {product}? Tell us in the comments."),
    ("neu", "{alias} update: changes to the {product} start in {n} days. Details: {url}"),
    ("neu", "Behind the scenes at {alias}: {n} people building the {product}. {url}"),
    ("neu", "ICYMI: {person} talks about {alias} in a new interview. {url}"),
    ("neg", "We're aware some customers are having trouble with the {product}. Updates at @{handle}."),
    ("neg", "We're sorry about the {product} delays this week. Reach out to @{handle} and we'll make it right."),
)
LINK_TITLES = (
    "{alias} unveils the new {product}",
    "Everything you need to know about the {product}",
    "{product}: {n} things to know before you buy",
    "Inside {alias}'s plan for the {product}",
)
SOCIAL_TEMPLATES = (
    ("pos", "Loving my new {product} from {alias}"),
    ("pos", "Shoutout to @{handle} for the amazing {product}! #{tag}"),
    ("pos", "{alias} really nailed it with the {product}. {n}/10 would recommend"),
    ("pos", "Best {product} I've had in {n} years, thank you {alias} #{tag}"),
    ("pos", "Unboxing the {product} today #{tag} #unboxing"),
    ("neg", "@{handle} my {product} broke after {n} days. Not happy"),
    ("neg", "Worst experience with {alias} today, waited {n} minutes for my {product}"),
    ("neg", "Why is the {alias} {product} so expensive now?? #{tag}"),
    ("neg", "Third time this month my {product} failed. Come on @{handle}"),
    ("neu", "Anyone tried the new {product} from {alias}? Thinking about switching"),
    ("neu", "Day {n} with the {product}. Still deciding how I feel. #{tag}"),
    ("neu", "{alias} vs the rest: my honest {product} review {url}"),
    ("neu", "Can't stop thinking about what {person} said last night"),
    ("neu", "Sunday reset: coffee, {n} emails and a long walk"),
)
CUSTOMER_TEMPLATES = (
    ("neg", "@{support} my {product} stopped working after the update. Any ideas?"),
    ("neg", "@{support} been on hold for {n} minutes. This is ridiculous"),
    ("neg", "@{support} can you help? My {product} was charged twice"),
    ("neg", "@{support} why does my {product} keep failing?? #{tag}"),
    ("neg", "@{support} is there an outage? {alias} {product} down for {n} hours"),
    ("pos", "@{support} thanks for sorting out my {product} so quickly!"),
    ("neu", "@{support} how do I change the email on my {alias} account?"),
)
SUPPORT_TEMPLATES = (  # the first answers a thank-you
    "@{customer} Glad we could help! Enjoy your {product}. ^{initials}",
    "@{customer} Sorry to hear that! Can you DM us your account details so we can take a look? ^{initials}",
    "@{customer} We'd like to help. Which {product} are you using, and what happens when you try again? ^{initials}",
    "@{customer} Thanks for reaching out. These steps should get your {product} going again: {url} ^{initials}",
    "@{customer} We hear you, and we're sorry for the wait. We've sent you a DM. ^{initials}",
)
FOLLOW_UP_TEMPLATES = (
    "@{support} done, just sent you a DM",
    "@{support} still not fixed, it's been {n} hours",
    "@{support} that worked, thank you!",
    "@{support} ok, it's the {product}. Same problem as before",
)
FIRST_NAMES = ("jess", "mike", "ana", "tom", "priya", "leo", "sam", "nina", "omar", "kate", "diego", "mei",
               "alex", "zoe", "raj", "lena", "chris", "fatima", "jonas", "ivy")  # fmt: skip
HANDLE_WORDS = ("runs", "eats", "travels", "codes", "vibes", "daily", "films", "lifts", "reads", "cooks")
TIKTOK_TAGS = (" #fyp", " #foryou", " #viral", " #fyp #foryoupage")
INSTAGRAM_TAGS = (" #photooftheday", " #instagood", " #weekend", " #ootd", " #mood")
SONGS = ("Espresso", "Good Luck, Babe!", "Beautiful Things", "Lose Control", "Pink Pony Club", "Birds of a Feather")
URL_PREFIXES = ("https://bit.ly/", "https://t.co/", "https://buff.ly/", "https://ow.ly/")
_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- public API ------------------------------------------------------------------------------------


def generate_exports(
    out_dir: str | Path, posts_per_platform: int = 400, seed: int = 7, now: datetime | None = None
) -> list[DemoExport]:
    """Writes out_dir/<platform>/<platform>_demo_<YYYYMMDD>.<ext> for each platform; returns what it wrote."""
    now = _utc(now)
    writers: dict[str, Callable[..., DemoExport]] = {
        "facebook": generate_facebook_csv,
        "instagram": generate_instagram_json,
        "tiktok": generate_tiktok_jsonl,
        "customer_care": generate_customer_care_csv,
    }
    exports = []
    for number, platform in enumerate(DEMO_PLATFORMS):
        path = Path(out_dir) / platform / f"{platform}_demo_{now:%Y%m%d}.{EXTENSIONS[platform]}"
        exports.append(writers[platform](path, posts_per_platform, seed=seed + 1000 * number, now=now))
    return exports


def generate_facebook_csv(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None
) -> DemoExport:
    """Facebook page posts as a Graph-API page scraper writes them (times in fixed UTC-5), vectorised."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    clean = _clean_count(n, dirty)
    epoch = _timestamps(rng, clean, now)
    brand = rng.integers(0, len(BRANDS), clean)
    pages = np.array([b.page[0] for b in BRANDS], dtype=object)[brand]
    page_ids = np.array([b.page[1] for b in BRANDS], dtype=object)[brand]
    post_ids = _ascending_ids(rng, clean, 10_150_000_000_000_000, 10**6)[::-1].astype(str).astype(object)

    message = _compose(rng, FACEBOOK_TEMPLATES, brand, emoji_share=0.25, url_share=0.05)
    kind = rng.choice(np.array(["photo", "link", "video", "status"], dtype=object), clean, p=[0.45, 0.25, 0.18, 0.12])
    link_name = np.full(clean, "", dtype=object)
    links = np.flatnonzero(kind == "link")
    link_name[links] = _fill(rng, LINK_TITLES, rng.integers(0, len(LINK_TITLES), len(links)), brand[links])
    link_name[kind == "photo"] = "Timeline Photos"
    status_link = np.full(clean, "", dtype=object)
    status_link[links] = _urls(rng, len(links))
    for media in ("photo", "video"):
        rows = kind == media
        status_link[rows] = "https://www.facebook.com/" + page_ids[rows] + f"/{media}s/" + post_ids[rows] + "/"

    likes = _lognormal_counts(rng, clean, 5.0, 1.6)
    frame = pd.DataFrame(
        {
            "status_id": page_ids + "_" + post_ids,
            "status_message": message,
            "link_name": link_name,
            "status_type": kind,
            "status_link": status_link,
            "status_published": _iso(epoch - 5 * 3600, sep=" "),  # the scraper writes UTC-5 wall time
            "num_likes": likes,
            "num_comments": (likes * rng.uniform(0.01, 0.12, clean)).astype(np.int64),
            "num_shares": (likes * rng.uniform(0.0, 0.08, clean)).astype(np.int64),
            "page_name": pages,
        },
        columns=list(FACEBOOK_COLUMNS),
    )
    dirty_rows = 0
    if dirty:
        empty_text, bad_date, word_likes, negative_likes = _spread(clean, 4)
        frame["num_likes"] = frame["num_likes"].astype(object)
        frame.loc[empty_text, ["status_message", "link_name"]] = ""
        frame.loc[bad_date, "status_published"] = BAD_DATE
        frame.loc[word_likes, "num_likes"] = BAD_COUNT
        frame.loc[negative_likes, "num_likes"] = -12
        frame = pd.concat([frame.iloc[: clean - 1], frame.iloc[[0]], frame.iloc[clean - 1 :]], ignore_index=True)
        dirty_rows = 5
    _write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n"))
    return DemoExport("facebook", path, len(frame), dirty_rows)


def generate_instagram_json(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None
) -> DemoExport:
    """Instagram media as the Graph API's /media edge returns it: {"data": [...]}, ISO-8601 timestamps."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    clean = _clean_count(n, dirty)
    epoch = _timestamps(rng, clean, now)
    brand = rng.integers(0, len(BRANDS), clean)
    ids = _ascending_ids(rng, clean, 17_900_000_000_000_000, 10**9)[::-1].astype(str)
    users = _usernames(rng, clean, brand, brand_share=0.15)
    caption = _compose(rng, SOCIAL_TEMPLATES, brand, emoji_share=0.5, url_share=0.05)
    tagged = rng.random(clean) < 0.4
    caption[tagged] = caption[tagged] + rng.choice(np.array(INSTAGRAM_TAGS, dtype=object), int(tagged.sum()))
    likes = _lognormal_counts(rng, clean, 4.5, 1.5)
    comments = (likes * rng.uniform(0.0, 0.1, clean)).astype(np.int64)
    media = rng.choice(np.array(["IMAGE", "VIDEO", "CAROUSEL_ALBUM"]), clean, p=[0.6, 0.25, 0.15])
    shortcodes = _tokens(rng, clean, 11)
    timestamps = _iso(epoch)
    records = [
        {
            "id": str(ids[i]),
            "caption": caption[i],
            "username": users[i],
            "timestamp": f"{timestamps[i]}+0000",
            "permalink": f"https://www.instagram.com/p/{shortcodes[i]}/",
            "like_count": int(likes[i]),
            "comments_count": int(comments[i]),
            "media_type": str(media[i]),
        }
        for i in range(clean)
    ]
    dirty_rows = 0
    if dirty:
        missing_id, bad_date, word_likes, negative_comments = _spread(clean, 4)
        records[missing_id]["id"] = None
        records[bad_date]["timestamp"] = BAD_DATE
        records[word_likes]["like_count"] = BAD_COUNT
        records[negative_comments]["comments_count"] = -4
        records.insert(clean - 1, dict(records[0]))
        dirty_rows = 5
    body = json.dumps({"data": records}, ensure_ascii=False, indent=1)
    _write_atomic(path, lambda tmp: tmp.write_text(body + "\n", encoding="utf-8"))
    return DemoExport("instagram", path, len(records), dirty_rows)


def generate_tiktok_jsonl(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None
) -> DemoExport:
    """TikTok videos, one JSON object per line, with nested author, stats and music (epoch-second times)."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    clean = _clean_count(n, dirty) - (1 if dirty else 0)  # the broken line takes one more slot
    epoch = _timestamps(rng, clean, now)
    brand = rng.integers(0, len(BRANDS), clean)
    ids = _ascending_ids(rng, clean, 7_290_000_000_000_000_000, 10**10)[::-1].astype(str)
    users = _usernames(rng, clean, brand, brand_share=0.1)
    desc = _compose(rng, SOCIAL_TEMPLATES, brand, emoji_share=0.45, url_share=0.0)
    tagged = rng.random(clean) < 0.6
    desc[tagged] = desc[tagged] + rng.choice(np.array(TIKTOK_TAGS, dtype=object), int(tagged.sum()))
    plays = _lognormal_counts(rng, clean, 8.0, 1.8) + 1
    likes = (plays * rng.uniform(0.02, 0.15, clean)).astype(np.int64)
    comments = (likes * rng.uniform(0.0, 0.08, clean)).astype(np.int64)
    shares = (likes * rng.uniform(0.0, 0.05, clean)).astype(np.int64)
    sponsored = rng.random(clean) < 0.2
    songs = rng.choice(np.array(SONGS, dtype=object), clean)
    records = []
    for i in range(clean):
        user, video = str(users[i]), str(ids[i])
        sponsor = BRANDS[brand[i]].name if sponsored[i] else None
        title = f"{sponsor} - Sponsored sound" if sponsor else (songs[i] if i % 3 else f"original sound - {user}")
        records.append(
            {
                "video_id": video,
                "desc": desc[i],
                "create_time": int(epoch[i]),
                "author": {"unique_id": user},
                "stats": {
                    "digg_count": int(likes[i]),
                    "comment_count": int(comments[i]),
                    "share_count": int(shares[i]),
                    "play_count": int(plays[i]),
                },
                "share_url": f"https://www.tiktok.com/@{user}/video/{video}",
                "music": {"title": title, "brand": sponsor},
            }
        )
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    dirty_rows = 0
    if dirty:
        missing_id, bad_date, negative_likes, word_plays = _spread(clean, 4)
        for row, change in (
            (missing_id, lambda r: r.update(video_id="")),
            (bad_date, lambda r: r.update(create_time=BAD_DATE)),
            (negative_likes, lambda r: r["stats"].update(digg_count=-12)),
            (word_plays, lambda r: r["stats"].update(play_count=BAD_COUNT)),
        ):
            change(records[row])
            lines[row] = json.dumps(records[row], ensure_ascii=False)
        broken = lines[clean // 2][: max(16, len(lines[clean // 2]) // 3)]  # cut mid-record: '{"video_id": "7...'
        lines.insert(clean - 1, lines[0])
        lines.insert(clean // 2, broken)
        dirty_rows = 6
    body = "".join(line + "\n" for line in lines)
    _write_atomic(path, lambda tmp: tmp.write_text(body, encoding="utf-8"))
    return DemoExport("tiktok", path, len(lines), dirty_rows)


def generate_customer_care_csv(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None
) -> DemoExport:
    """Customer-care threads on Twitter/X: customers write to a brand's support account, which replies."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    clean = _clean_count(n, dirty)
    supported = [b for b in BRANDS if b.support]
    now_s = int(now.timestamp())
    next_id = int(rng.integers(100_000, 900_000))
    rows: list[dict] = []
    while len(rows) < clean:
        brand = supported[int(rng.integers(len(supported)))]
        customer = str(int(rng.integers(100_000, 999_999)))
        size = min(int(rng.choice([1, 2, 3, 4], p=[0.1, 0.45, 0.2, 0.25])), clean - len(rows))
        at = now_s - int(rng.integers(12 * 3600, WINDOW_SECONDS))
        initials = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTW"), 2))
        values = {
            "support": brand.support, "customer": customer, "initials": initials, "alias": _one(rng, brand.aliases),
            "tag": _one(rng, brand.hashtags), "product": _one(rng, brand.products), "n": str(int(rng.integers(2, 48))),
            "url": _urls(rng, 1)[0],
        }  # fmt: skip
        thread = []
        for step in range(size):
            if step == 0:
                mood, template = CUSTOMER_TEMPLATES[int(rng.integers(len(CUSTOMER_TEMPLATES)))]
            elif step % 2:  # a thank-you gets the thank-you reply; a complaint or question, one of the others
                replies = SUPPORT_TEMPLATES[:1] if mood == "pos" else SUPPORT_TEMPLATES[1:]
                template = replies[int(rng.integers(len(replies)))]
            else:
                template = FOLLOW_UP_TEMPLATES[int(rng.integers(len(FOLLOW_UP_TEMPLATES)))]
            text = template.format(**values)
            if step == 0 and rng.random() < 0.3:
                text += " " + _one(rng, EMOJI["neg"])
            thread.append(
                {
                    "tweet_id": str(next_id),
                    "author_id": brand.support if step % 2 else customer,
                    "inbound": "False" if step % 2 else "True",
                    "created_at": _twitter_time(at),
                    "text": text,
                    "response_tweet_id": "",
                    "in_response_to_tweet_id": thread[-1]["tweet_id"] if thread else "",
                }
            )
            if step:
                thread[-2]["response_tweet_id"] = str(next_id)
            next_id += int(rng.integers(1, 40))
            at += int(rng.integers(60, 3 * 3600))
        rows.extend(thread)
    frame = pd.DataFrame(rows, columns=list(CUSTOMER_CARE_COLUMNS))
    dirty_rows = 0
    if dirty:
        empty_text, bad_date, missing_id = _spread(clean, 3)
        frame.loc[empty_text, "text"] = ""
        frame.loc[bad_date, "created_at"] = BAD_DATE
        frame.loc[missing_id, "tweet_id"] = ""
        frame = pd.concat([frame.iloc[: clean - 1], frame.iloc[[0]], frame.iloc[clean - 1 :]], ignore_index=True)
        dirty_rows = 4
    _write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n"))
    return DemoExport("customer_care", path, len(frame), dirty_rows)


# --- building blocks -------------------------------------------------------------------------------


def _utc(now: datetime | None) -> datetime:
    """`now` in UTC (naive means UTC); by default the start of the current UTC day, so that every run on
    one day writes the same bytes (a second `mlds demo` finds its files already ingested)."""
    if now is None:
        return datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)


def _clean_count(n: int, dirty: bool) -> int:
    """How many valid records to generate: with dirty rows, one record slot goes to the duplicate."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if dirty and n < MIN_DIRTY_ROWS:
        raise ValueError(f"n must be >= {MIN_DIRTY_ROWS} for an export with dirty rows, got {n}")
    return n - 1 if dirty else n


def _spread(clean: int, k: int) -> list[int]:
    """k distinct rows spread through the file, never row 0 (the duplicate's original) nor the last."""
    return [(i + 1) * (clean - 1) // (k + 1) for i in range(k)]


def _timestamps(rng: np.random.Generator, n: int, now: datetime) -> np.ndarray:
    """Epoch seconds in the 30 days before `now`, newest first (as exports list them)."""
    ago = np.sort(rng.integers(60, WINDOW_SECONDS, n))
    return int(now.timestamp()) - ago


def _ascending_ids(rng: np.random.Generator, n: int, base: int, max_step: int) -> np.ndarray:
    return base + np.cumsum(rng.integers(1, max_step, n, dtype=np.int64))


def _iso(epoch: np.ndarray, sep: str = "T") -> np.ndarray:
    """'YYYY-MM-DDTHH:MM:SS' (UTC) for each epoch second, as an object array of str."""
    text = np.ascontiguousarray(np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s").astype("<U19"))
    if sep != "T":
        text.view(np.uint32).reshape(-1, 19)[:, 10] = ord(sep)
    return text.astype(object)


def _twitter_time(epoch: int) -> str:
    """'Tue Oct 31 22:10:47 +0000 2017', with English names whatever the locale."""
    t = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t:%d %H:%M:%S} +0000 {t.year}"


def _lognormal_counts(rng: np.random.Generator, n: int, mean: float, sigma: float) -> np.ndarray:
    return np.floor(rng.lognormal(mean, sigma, n)).astype(np.int64)


def _tokens(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """n random alphanumeric tokens of `width` characters (object array of str)."""
    codes = _ALPHABET[rng.integers(0, len(_ALPHABET), (n, width))].astype(np.uint32)
    return np.ascontiguousarray(codes).view(f"<U{width}").ravel().astype(object)


def _urls(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = rng.choice(np.array(URL_PREFIXES, dtype=object), n)
    return prefixes + _tokens(rng, n, 7)


def _one(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _flat(groups: list[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.array([v for g in groups for v in g], dtype=object), offsets, counts


_TABLES = {
    "alias": _flat([b.aliases for b in BRANDS]),
    "handle": _flat([b.handles for b in BRANDS]),
    "tag": _flat([b.hashtags for b in BRANDS]),
    "product": _flat([b.products for b in BRANDS]),
}


def _pick(rng: np.random.Generator, table: tuple[np.ndarray, np.ndarray, np.ndarray], group: np.ndarray) -> np.ndarray:
    """For each row, one value of its group (e.g. one alias of the row's brand)."""
    values, offsets, counts = table
    within = (rng.random(len(group)) * counts[group]).astype(np.int64)
    return values[offsets[group] + within]


def _fill(rng: np.random.Generator, templates: tuple[str, ...], choice: np.ndarray, brand: np.ndarray) -> np.ndarray:
    """Fill templates[choice[i]] for brand[i], one template at a time with object-array concatenation."""
    n = len(choice)
    values = {name: _pick(rng, table, brand) for name, table in _TABLES.items()}
    values["n"] = rng.integers(2, 48, n).astype(str).astype(object)
    values["person"] = rng.choice(np.array(PEOPLE, dtype=object), n)
    values["url"] = _urls(rng, n)
    out = np.empty(n, dtype=object)
    for number, template in enumerate(templates):
        rows = np.flatnonzero(choice == number)
        if not len(rows):
            continue
        text = np.full(len(rows), "", dtype=object)
        for literal, name, _, _ in Formatter().parse(template):
            if literal:
                text = text + literal
            if name is not None:
                text = text + values[name][rows]
        out[rows] = text
    return out


def _compose(
    rng: np.random.Generator,
    templates: tuple[tuple[str, str], ...],
    brand: np.ndarray,
    emoji_share: float,
    url_share: float,
) -> np.ndarray:
    """Post texts: a template per row, then an emoji matching its sentiment for some, a link for others."""
    n = len(brand)
    choice = rng.integers(0, len(templates), n)
    text = _fill(rng, tuple(t for _, t in templates), choice, brand)
    sentiments = tuple(EMOJI)
    mood = np.array([sentiments.index(s) for s, _ in templates], dtype=np.int64)[choice]
    emoji = _pick(rng, _flat([EMOJI[s] for s in sentiments]), mood)
    with_emoji = rng.random(n) < emoji_share
    text[with_emoji] = text[with_emoji] + " " + emoji[with_emoji]
    has_url = np.array(["{url}" in t for _, t in templates])[choice]
    with_url = (rng.random(n) < url_share) & ~has_url
    text[with_url] = text[with_url] + " " + _urls(rng, int(with_url.sum()))
    return text


def _usernames(rng: np.random.Generator, n: int, brand: np.ndarray, brand_share: float) -> np.ndarray:
    """People's handles from a fixed pool, and the brand's own account for a share of posts."""
    pool_size = 600
    first = rng.choice(np.array(FIRST_NAMES, dtype=object), pool_size)
    word = rng.choice(np.array(HANDLE_WORDS, dtype=object), pool_size)
    sep = rng.choice(np.array([".", "_", ""], dtype=object), pool_size)
    digits = rng.integers(0, 100, pool_size).astype(str).astype(object)
    pool = np.unique(first + sep + word + np.where(rng.random(pool_size) < 0.5, digits, ""))
    users = pool[rng.integers(0, len(pool), n)]
    own = rng.random(n) < brand_share
    users[own] = np.array([b.handles[0] for b in BRANDS], dtype=object)[brand[own]]
    return users


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write to `<name>.tmp` beside the target, then rename: watchers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
