"""Demo exports: realistic platform files in each platform's native shape, with a few deliberately dirty rows.

`mlds demo` drops one export per platform into the inbox; the benchmark uses `generate_facebook_csv` at
100k and 1M rows. Nothing here copies the configuration: the column and key names, the JSON records path,
the timestamp format and time zone come from the loaded platform YAML (`config/platforms/*.yaml`), and the
brands (every ORG entity with a handle and a hashtag), their names, aliases, @handles and #hashtags, and the
people named in posts (PERSON entities) come from the entity dictionary (`config/entities.yaml`). What the
configuration does not hold stays here: each writer's format and the columns a real export carries that
MLDS does not map (`status_type`, `media_type`, `inbound`, ...), and per brand the products, the Facebook
page and the customer-care account (`DEMO_BRAND_EXTRAS`; a dictionary brand without them gets neutral ones).

Deterministic: the same configuration, seed and `now` give byte-identical files. Timestamps fall in the 30 days before
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
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from string import Formatter

import numpy as np
import pandas as pd

from mlds_assets.core.entities import EntityDictionary
from mlds_assets.settings import CreatedAtFormat, PlatformConfig, Settings, load_settings

DEMO_PLATFORMS = ("facebook", "instagram", "tiktok", "customer_care")  # the platforms the demo can write
EXTENSIONS = {"facebook": "csv", "instagram": "json", "tiktok": "jsonl", "customer_care": "csv"}  # writer formats
WINDOW_SECONDS = 30 * 24 * 3600  # timestamps fall in the 30 days before `now`
MIN_DIRTY_ROWS = 12  # the fewest records a file with dirty rows can hold
BAD_DATE = "not a date"
BAD_COUNT = "lots"


@dataclass
class DemoExport:
    platform: str
    path: Path
    rows: int  # records written, including dirty ones (for JSONL: non-blank lines)
    dirty_rows: int  # how many of them are deliberately invalid


@dataclass(frozen=True)
class Brand:
    """One brand as the demo writes it: the surface forms come from the entity dictionary."""

    entity_id: str
    name: str  # the entity's canonical name (TikTok sponsored sounds label with it)
    aliases: tuple[str, ...]
    handles: tuple[str, ...]
    hashtags: tuple[str, ...]
    products: tuple[str, ...]
    page: tuple[str, str]  # Facebook page (page_name, page id)
    support: str | None = None  # customer-care account (author_id) on Twitter/X: one of the handles


@dataclass(frozen=True)
class BrandExtras:
    """What the demo knows about a brand that the entity dictionary does not hold."""

    products: tuple[str, ...]
    page: tuple[str, str]  # (page_name, page id)
    support: str | None = None  # display casing of one of the entity's handles


DEMO_BRAND_EXTRAS = {
    "nike": BrandExtras(("running shoes", "Air Max", "hoodie"), ("Nike", "15087023444")),
    "adidas": BrandExtras(("Ultraboost", "sneakers", "track jacket"), ("adidas", "182162001806727")),
    "apple": BrandExtras(("iPhone", "iPad", "MacBook", "AirPods"), ("Apple", "434174436675167"), "AppleSupport"),
    "google": BrandExtras(("Pixel", "Android phone", "Google Maps"), ("Google", "104958162837")),
    "amazon": BrandExtras(("Prime delivery", "package", "Kindle"), ("Amazon", "9465008123"), "AmazonHelp"),
    "spotify": BrandExtras(("playlist", "Premium plan", "podcast app"), ("Spotify", "6243987495"), "SpotifyCares"),
    "uber": BrandExtras(("ride", "Uber Eats order", "driver app"), ("Uber", "200526416641706"), "Uber_Support"),
    "delta": BrandExtras(("flight", "checked bag", "upgrade"), ("Delta", "179003952107"), "Delta"),
    "british_airways": BrandExtras(("flight", "lounge", "Avios booking"), ("British Airways", "126154134061")),
    "comcast": BrandExtras(("internet", "cable box", "Wi-Fi"), ("Xfinity", "108011052574233"), "comcastcares"),
    "chipotle": BrandExtras(("burrito bowl", "guac", "order"), ("Chipotle", "14963747297"), "ChipotleTweets"),
    "starbucks": BrandExtras(("latte", "cold brew", "app order"), ("Starbucks", "22092443056")),
    "tesla": BrandExtras(("Model 3", "Model Y", "Autopilot update"), ("Tesla", "1637453683196062")),
    "new_york_times": BrandExtras(("subscription", "crossword", "morning briefing"),
                                  ("The New York Times", "5281959998")),
}  # fmt: skip
DEFAULT_PRODUCTS = ("app", "order", "account")  # for a dictionary brand the demo has no extras for
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


# --- the configuration the demo writes for --------------------------------------------------------


@dataclass(frozen=True)
class DemoWorld:
    """The brands and people the posts name, from the entity dictionary of the loaded settings."""

    brands: tuple[Brand, ...]
    people: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> DemoWorld:
        dictionary = EntityDictionary.load(settings.entity_dictionary_path)
        brands, people = [], []
        for entity in dictionary.entities.values():  # the file's order
            if entity.type == "PERSON":
                people.extend(entity.aliases or (entity.name,))
            if entity.type != "ORG" or not entity.handles or not entity.hashtags:
                continue  # texts name a brand by alias, @handle and #hashtag
            extras = DEMO_BRAND_EXTRAS.get(entity.id)
            extras = extras or BrandExtras(DEFAULT_PRODUCTS, (entity.name, _page_id(entity.id)))
            handles = {h.lower() for h in entity.handles}
            support = extras.support if extras.support and extras.support.lower() in handles else None
            brands.append(
                Brand(entity.id, entity.name, entity.aliases or (entity.name,), entity.handles, entity.hashtags,
                      extras.products, extras.page, support)
            )  # fmt: skip
        if not brands:
            raise ValueError(f"{settings.entity_dictionary_path}: no ORG entity with a handle and a hashtag to name")
        return cls(tuple(brands), tuple(people) or ("a friend",))

    def table(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _flat([getattr(b, name) for b in self.brands])


def demo_brands(settings: Settings | None = None) -> tuple[Brand, ...]:
    """The brands the demo's posts name, read from the entity dictionary."""
    return DemoWorld.from_settings(settings or load_settings()).brands


def _page_id(entity_id: str) -> str:
    """A stable, numeric page id for a brand the demo has no page for."""
    return str(int.from_bytes(entity_id.encode("utf-8")[:8].ljust(8, b"\0"), "big") % 10**15)


def _platform(settings: Settings | None, name: str) -> tuple[Settings, PlatformConfig, DemoWorld]:
    settings = settings or load_settings()
    config = settings.platform(name)
    if EXTENSIONS[name] not in config.formats:
        raise ValueError(f"the demo writes {name} as {EXTENSIONS[name]}, which platforms/{name}.yaml does not accept")
    return settings, config, DemoWorld.from_settings(settings)


def _columns(config: PlatformConfig, *fields: str) -> dict[str, list[str]]:
    """The native column(s) of each canonical field the writer fills, from the platform YAML."""
    columns = {field: config.columns_for(field) for field in fields}
    missing = [f for f, c in columns.items() if not c]
    if missing:
        raise ValueError(f"platforms/{config.name}.yaml maps no column for {missing}: the demo export needs them")
    return columns


def _put(record: dict, dotted: str, value: object) -> None:
    """Set a dotted key (`stats.digg_count`) in a nested JSON record."""
    *parents, last = dotted.split(".")
    for key in parents:
        record = record.setdefault(key, {})
    record[last] = value


# --- public API ------------------------------------------------------------------------------------


def generate_exports(
    out_dir: str | Path,
    posts_per_platform: int = 400,
    seed: int = 7,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> list[DemoExport]:
    """Writes out_dir/<inbox>/<platform>_demo_<YYYYMMDD>.<ext> for each configured platform the demo can
    write (`DEMO_PLATFORMS`); returns what it wrote. `settings` defaults to the loaded configuration."""
    now, settings = _utc(now), settings or load_settings()
    writers: dict[str, Callable[..., DemoExport]] = {
        "facebook": generate_facebook_csv,
        "instagram": generate_instagram_json,
        "tiktok": generate_tiktok_jsonl,
        "customer_care": generate_customer_care_csv,
    }
    exports = []
    for number, platform in enumerate(DEMO_PLATFORMS):
        if platform not in settings.platforms:
            continue
        folder = Path(out_dir) / settings.platform(platform).inbox_folder
        path = folder / f"{platform}_demo_{now:%Y%m%d}.{EXTENSIONS[platform]}"
        write = writers[platform]
        exports.append(write(path, posts_per_platform, seed=seed + 1000 * number, now=now, settings=settings))
    return exports


def generate_facebook_csv(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None,
    settings: Settings | None = None,
) -> DemoExport:  # fmt: skip
    """Facebook page posts as a Graph-API page scraper writes them (times in the YAML's zone), vectorised."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    _, config, world = _platform(settings, "facebook")
    c = _columns(config, "native_id", "text", "author", "created_at", "url", "likes", "comments", "shares")
    clean = _clean_count(n, dirty)
    epoch = _timestamps(rng, clean, now)
    brand = rng.integers(0, len(world.brands), clean)
    pages = np.array([b.page[0] for b in world.brands], dtype=object)[brand]
    page_ids = np.array([b.page[1] for b in world.brands], dtype=object)[brand]
    post_ids = _ascending_ids(rng, clean, 10_150_000_000_000_000, 10**6)[::-1].astype(str).astype(object)

    message = _compose(rng, world, FACEBOOK_TEMPLATES, brand, emoji_share=0.25, url_share=0.05)
    kind = rng.choice(np.array(["photo", "link", "video", "status"], dtype=object), clean, p=[0.45, 0.25, 0.18, 0.12])
    link_name = np.full(clean, "", dtype=object)
    links = np.flatnonzero(kind == "link")
    link_name[links] = _fill(rng, world, LINK_TITLES, rng.integers(0, len(LINK_TITLES), len(links)), brand[links])
    link_name[kind == "photo"] = "Timeline Photos"
    status_link = np.full(clean, "", dtype=object)
    status_link[links] = _urls(rng, len(links))
    for media in ("photo", "video"):
        rows = kind == media
        status_link[rows] = "https://www.facebook.com/" + page_ids[rows] + f"/{media}s/" + post_ids[rows] + "/"

    likes = _lognormal_counts(rng, clean, 5.0, 1.6)
    text = c["text"]  # the message, then the link's title when the YAML joins a second column
    columns = {
        c["native_id"][0]: page_ids + "_" + post_ids,
        text[0]: message,
        **({text[1]: link_name} if len(text) > 1 else {}),
        "status_type": kind,  # in the scraper's export, not mapped
        c["url"][0]: status_link,
        c["created_at"][0]: _format_times(epoch, config.created_at),
        c["likes"][0]: likes,
        c["comments"][0]: (likes * rng.uniform(0.01, 0.12, clean)).astype(np.int64),
        c["shares"][0]: (likes * rng.uniform(0.0, 0.08, clean)).astype(np.int64),
        c["author"][0]: pages,
    }
    frame = pd.DataFrame(columns, columns=list(columns))
    dirty_rows = 0
    if dirty:
        empty_text, bad_date, word_likes, negative_likes = _spread(clean, 4)
        frame[c["likes"][0]] = frame[c["likes"][0]].astype(object)
        frame.loc[empty_text, text[:2]] = ""
        frame.loc[bad_date, c["created_at"][0]] = BAD_DATE
        frame.loc[word_likes, c["likes"][0]] = BAD_COUNT
        frame.loc[negative_likes, c["likes"][0]] = -12
        frame = pd.concat([frame.iloc[: clean - 1], frame.iloc[[0]], frame.iloc[clean - 1 :]], ignore_index=True)
        dirty_rows = 5
    _write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n"))
    return DemoExport("facebook", path, len(frame), dirty_rows)


def generate_instagram_json(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None,
    settings: Settings | None = None,
) -> DemoExport:  # fmt: skip
    """Instagram media as the Graph API's /media edge returns it: {"data": [...]}, ISO-8601 timestamps."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    _, config, world = _platform(settings, "instagram")
    c = {f: cols[0] for f, cols in _columns(config, "native_id", "text", "author", "created_at", "url", "likes",
                                               "comments").items()}  # fmt: skip
    clean = _clean_count(n, dirty)
    epoch = _timestamps(rng, clean, now)
    brand = rng.integers(0, len(world.brands), clean)
    ids = _ascending_ids(rng, clean, 17_900_000_000_000_000, 10**9)[::-1].astype(str)
    users = _usernames(rng, world, clean, brand, brand_share=0.15)
    caption = _compose(rng, world, SOCIAL_TEMPLATES, brand, emoji_share=0.5, url_share=0.05)
    tagged = rng.random(clean) < 0.4
    caption[tagged] = caption[tagged] + rng.choice(np.array(INSTAGRAM_TAGS, dtype=object), int(tagged.sum()))
    likes = _lognormal_counts(rng, clean, 4.5, 1.5)
    comments = (likes * rng.uniform(0.0, 0.1, clean)).astype(np.int64)
    media = rng.choice(np.array(["IMAGE", "VIDEO", "CAROUSEL_ALBUM"]), clean, p=[0.6, 0.25, 0.15])
    shortcodes = _tokens(rng, clean, 11)
    timestamps = _format_times(epoch, config.created_at)
    records = []
    for i in range(clean):
        record: dict = {}
        for key, value in (
            (c["native_id"], str(ids[i])),
            (c["text"], caption[i]),
            (c["author"], users[i]),
            (c["created_at"], _json_value(timestamps[i])),
            (c["url"], f"https://www.instagram.com/p/{shortcodes[i]}/"),
            (c["likes"], int(likes[i])),
            (c["comments"], int(comments[i])),
            ("media_type", str(media[i])),  # in the API's answer, not mapped
        ):
            _put(record, key, value)
        records.append(record)
    dirty_rows = 0
    if dirty:
        missing_id, bad_date, word_likes, negative_comments = _spread(clean, 4)
        _put(records[missing_id], c["native_id"], None)
        _put(records[bad_date], c["created_at"], BAD_DATE)
        _put(records[word_likes], c["likes"], BAD_COUNT)
        _put(records[negative_comments], c["comments"], -4)
        records.insert(clean - 1, json.loads(json.dumps(records[0])))
        dirty_rows = 5
    document: object = records
    for key in reversed((config.read.records_path or "").split(".") if config.read.records_path else []):
        document = {key: document}
    body = json.dumps(document, ensure_ascii=False, indent=1)
    _write_atomic(path, lambda tmp: tmp.write_text(body + "\n", encoding="utf-8"))
    return DemoExport("instagram", path, len(records), dirty_rows)


def generate_tiktok_jsonl(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None,
    settings: Settings | None = None,
) -> DemoExport:  # fmt: skip
    """TikTok videos, one JSON object per line, with nested author, stats and music (epoch-second times)."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    _, config, world = _platform(settings, "tiktok")
    c = {f: cols[0] for f, cols in _columns(config, "native_id", "text", "author", "created_at", "url", "likes",
                                               "comments", "shares", "views").items()}  # fmt: skip
    label = config.labels[0].column if config.labels else None  # a sponsored sound names its brand
    clean = _clean_count(n, dirty) - (1 if dirty else 0)  # the broken line takes one more slot
    epoch = _timestamps(rng, clean, now)
    brand = rng.integers(0, len(world.brands), clean)
    ids = _ascending_ids(rng, clean, 7_290_000_000_000_000_000, 10**10)[::-1].astype(str)
    users = _usernames(rng, world, clean, brand, brand_share=0.1)
    desc = _compose(rng, world, SOCIAL_TEMPLATES, brand, emoji_share=0.45, url_share=0.0)
    tagged = rng.random(clean) < 0.6
    desc[tagged] = desc[tagged] + rng.choice(np.array(TIKTOK_TAGS, dtype=object), int(tagged.sum()))
    plays = _lognormal_counts(rng, clean, 8.0, 1.8) + 1
    likes = (plays * rng.uniform(0.02, 0.15, clean)).astype(np.int64)
    comments = (likes * rng.uniform(0.0, 0.08, clean)).astype(np.int64)
    shares = (likes * rng.uniform(0.0, 0.05, clean)).astype(np.int64)
    sponsored = rng.random(clean) < 0.2
    songs = rng.choice(np.array(SONGS, dtype=object), clean)
    times = _format_times(epoch, config.created_at)
    records = []
    for i in range(clean):
        user, video = str(users[i]), str(ids[i])
        sponsor = world.brands[brand[i]].name if sponsored[i] else None
        title = f"{sponsor} - Sponsored sound" if sponsor else (songs[i] if i % 3 else f"original sound - {user}")
        record: dict = {}
        for key, value in (
            (c["native_id"], video),
            (c["text"], desc[i]),
            (c["created_at"], _json_value(times[i])),
            (c["author"], user),
            (c["likes"], int(likes[i])),
            (c["comments"], int(comments[i])),
            (c["shares"], int(shares[i])),
            (c["views"], int(plays[i])),
            (c["url"], f"https://www.tiktok.com/@{user}/video/{video}"),
            ("music.title", title),  # in the export, not mapped
            *([(label, sponsor)] if label else []),
        ):
            _put(record, key, value)
        records.append(record)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    dirty_rows = 0
    if dirty:
        missing_id, bad_date, negative_likes, word_plays = _spread(clean, 4)
        for row, key, bad in (
            (missing_id, c["native_id"], ""),
            (bad_date, c["created_at"], BAD_DATE),
            (negative_likes, c["likes"], -12),
            (word_plays, c["views"], BAD_COUNT),
        ):
            _put(records[row], key, bad)
            lines[row] = json.dumps(records[row], ensure_ascii=False)
        broken = lines[clean // 2][: max(16, len(lines[clean // 2]) // 3)]  # cut mid-record: '{"video_id": "7...'
        lines.insert(clean - 1, lines[0])
        lines.insert(clean // 2, broken)
        dirty_rows = 6
    body = "".join(line + "\n" for line in lines)
    _write_atomic(path, lambda tmp: tmp.write_text(body, encoding="utf-8"))
    return DemoExport("tiktok", path, len(lines), dirty_rows)


def generate_customer_care_csv(
    path: str | Path, n: int, seed: int = 7, dirty: bool = True, now: datetime | None = None,
    settings: Settings | None = None,
) -> DemoExport:  # fmt: skip
    """Customer-care threads on Twitter/X: customers write to a brand's support account, which replies."""
    path, rng, now = Path(path), np.random.default_rng(seed), _utc(now)
    _, config, world = _platform(settings, "customer_care")
    c = {f: cols[0] for f, cols in _columns(config, "native_id", "text", "author", "created_at", "parent_id").items()}
    clean = _clean_count(n, dirty)
    supported = [b for b in world.brands if b.support]
    if not supported:
        raise ValueError("no brand in the entity dictionary has a customer-care account among its handles")
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
                    c["native_id"]: str(next_id),
                    c["author"]: brand.support if step % 2 else customer,
                    "inbound": "False" if step % 2 else "True",  # in the export, not mapped
                    c["created_at"]: at,
                    c["text"]: text,
                    "response_tweet_id": "",  # in the export, not mapped
                    c["parent_id"]: thread[-1][c["native_id"]] if thread else "",
                }
            )
            if step:
                thread[-2]["response_tweet_id"] = str(next_id)
            next_id += int(rng.integers(1, 40))
            at += int(rng.integers(60, 3 * 3600))
        rows.extend(thread)
    columns = [c["native_id"], c["author"], "inbound", c["created_at"], c["text"], "response_tweet_id", c["parent_id"]]
    frame = pd.DataFrame(rows, columns=columns)
    frame[c["created_at"]] = _format_times(frame[c["created_at"]].to_numpy(np.int64), config.created_at)
    dirty_rows = 0
    if dirty:
        empty_text, bad_date, missing_id = _spread(clean, 3)
        frame.loc[empty_text, c["text"]] = ""
        frame.loc[bad_date, c["created_at"]] = BAD_DATE
        frame.loc[missing_id, c["native_id"]] = ""
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


def _iso(epoch: np.ndarray, sep: str = "T", fixed_width: bool = False) -> np.ndarray:
    """'YYYY-MM-DDTHH:MM:SS' (UTC) for each epoch second, as an object array of str (or `<U19`)."""
    text = np.ascontiguousarray(np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s").astype("<U19"))
    if sep != "T":
        text.view(np.uint32).reshape(-1, 19)[:, 10] = ord(sep)
    return text if fixed_width else text.astype(object)


def _format_times(epoch: np.ndarray, spec: CreatedAtFormat) -> np.ndarray:
    """Epoch seconds written as the platform YAML's `created_at` says: `epoch_s`/`epoch_ms` as integers,
    `iso` as 'YYYY-MM-DDTHH:MM:SS+0000', a strptime pattern as wall time in `timezone` (English day and
    month names whatever the locale; %z the zone's offset). Vectorised for the common directives."""
    epoch = np.asarray(epoch, dtype=np.int64)
    if spec.format == "epoch_s":
        return epoch
    if spec.format == "epoch_ms":
        return epoch * 1000
    if spec.format == "iso":
        return _iso(epoch) + "+0000"
    offset = _utc_offsets(epoch, spec.timezone)
    wall = epoch + offset
    for sep in (" ", "T"):  # the common pattern at a million rows: one vectorised pass
        if spec.format == f"%Y-%m-%d{sep}%H:%M:%S":
            return _iso(wall, sep=sep)
    text = _iso(wall, fixed_width=True)  # 'YYYY-MM-DDTHH:MM:SS'
    zones, which = np.unique(offset, return_inverse=True)
    parts: dict[str, Callable[[], np.ndarray]] = {
        "Y": lambda: _slice(text, 0, 4), "m": lambda: _slice(text, 5, 7), "d": lambda: _slice(text, 8, 10),
        "H": lambda: _slice(text, 11, 13), "M": lambda: _slice(text, 14, 16), "S": lambda: _slice(text, 17, 19),
        "y": lambda: _slice(text, 2, 4),
        "a": lambda: np.array(_DAYS, dtype=object)[((wall // 86400) + 3) % 7],  # 1970-01-01 was a Thursday
        "b": lambda: np.array(_MONTHS, dtype=object)[_slice(text, 5, 7).astype(int) - 1],
        "z": lambda: np.array(
            [f"{'-' if o < 0 else '+'}{abs(o) // 3600:02d}{abs(o) % 3600 // 60:02d}" for o in zones], dtype=object
        )[which],
        "%": lambda: np.full(len(epoch), "%", dtype=object),
    }  # fmt: skip
    out = np.full(len(epoch), "", dtype=object)
    for literal, directive in re.findall(r"([^%]*)(%.|$)", spec.format):
        out = out + literal
        if directive in {f"%{k}" for k in parts}:
            out = out + parts[directive[1]]()
        elif directive:  # rarer directives, one value at a time
            utc = timezone(timedelta(0))
            text_of = [datetime.fromtimestamp(int(w), tz=utc).strftime(directive) for w in wall]
            out = out + np.array(text_of, dtype=object)
    return out


def _slice(text: np.ndarray, start: int, end: int) -> np.ndarray:
    """Characters start:end of each string of a `<U19` array, without a Python string per value until the end."""
    chars = np.ascontiguousarray(text.view(np.uint32).reshape(-1, 19)[:, start:end])
    return chars.view(f"<U{end - start}").ravel().astype(object)


def _utc_offsets(epoch: np.ndarray, zone: str) -> np.ndarray:
    """Seconds to add to each UTC epoch second for the wall time in `zone` (an offset like -05:00, or IANA)."""
    fixed = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
    if fixed:
        seconds = int(fixed.group(2)) * 3600 + int(fixed.group(3)) * 60
        return np.full(len(epoch), -seconds if fixed.group(1) == "-" else seconds, dtype=np.int64)
    utc = pd.to_datetime(epoch, unit="s", utc=True)
    local = utc.tz_convert(zone).tz_localize(None)
    return ((local - utc.tz_localize(None)) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def _json_value(value: object) -> object:
    """A formatted timestamp as JSON writes it: numpy integers become int, text stays text."""
    return int(value) if isinstance(value, np.integer) else value


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


_TABLES = {"alias": "aliases", "handle": "handles", "tag": "hashtags", "product": "products"}  # -> Brand attribute


def _pick(rng: np.random.Generator, table: tuple[np.ndarray, np.ndarray, np.ndarray], group: np.ndarray) -> np.ndarray:
    """For each row, one value of its group (e.g. one alias of the row's brand)."""
    values, offsets, counts = table
    within = (rng.random(len(group)) * counts[group]).astype(np.int64)
    return values[offsets[group] + within]


def _fill(
    rng: np.random.Generator, world: DemoWorld, templates: tuple[str, ...], choice: np.ndarray, brand: np.ndarray
) -> np.ndarray:
    """Fill templates[choice[i]] for brand[i], one template at a time with object-array concatenation."""
    n = len(choice)
    values = {name: _pick(rng, world.table(attribute), brand) for name, attribute in _TABLES.items()}
    values["n"] = rng.integers(2, 48, n).astype(str).astype(object)
    values["person"] = rng.choice(np.array(world.people, dtype=object), n)
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
    world: DemoWorld,
    templates: tuple[tuple[str, str], ...],
    brand: np.ndarray,
    emoji_share: float,
    url_share: float,
) -> np.ndarray:
    """Post texts: a template per row, then an emoji matching its sentiment for some, a link for others."""
    n = len(brand)
    choice = rng.integers(0, len(templates), n)
    text = _fill(rng, world, tuple(t for _, t in templates), choice, brand)
    sentiments = tuple(EMOJI)
    mood = np.array([sentiments.index(s) for s, _ in templates], dtype=np.int64)[choice]
    emoji = _pick(rng, _flat([EMOJI[s] for s in sentiments]), mood)
    with_emoji = rng.random(n) < emoji_share
    text[with_emoji] = text[with_emoji] + " " + emoji[with_emoji]
    has_url = np.array(["{url}" in t for _, t in templates])[choice]
    with_url = (rng.random(n) < url_share) & ~has_url
    text[with_url] = text[with_url] + " " + _urls(rng, int(with_url.sum()))
    return text


def _usernames(rng: np.random.Generator, world: DemoWorld, n: int, brand: np.ndarray, brand_share: float) -> np.ndarray:
    """People's handles from a fixed pool, and the brand's own account for a share of posts."""
    pool_size = 600
    first = rng.choice(np.array(FIRST_NAMES, dtype=object), pool_size)
    word = rng.choice(np.array(HANDLE_WORDS, dtype=object), pool_size)
    sep = rng.choice(np.array([".", "_", ""], dtype=object), pool_size)
    digits = rng.integers(0, 100, pool_size).astype(str).astype(object)
    pool = np.unique(first + sep + word + np.where(rng.random(pool_size) < 0.5, digits, ""))
    users = pool[rng.integers(0, len(pool), n)]
    own = rng.random(n) < brand_share
    users[own] = np.array([b.handles[0] for b in world.brands], dtype=object)[brand[own]]
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
