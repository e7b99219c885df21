"""Demo exports: native shapes per platform YAML, deterministic bytes, and dirty rows the pipeline quarantines."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlds_assets.core.mapping import map_batch
from mlds_assets.core.readers import read_export
from mlds_assets.demo.exports import (
    BAD_DATE,
    DEMO_PLATFORMS,
    EXTENSIONS,
    DemoExport,
    demo_brands,
    generate_exports,
    generate_facebook_csv,
)
from mlds_assets.settings import DEFAULT_CONFIG_DIR, load_settings

NOW = datetime(2026, 11, 2, 14, 3, 11, tzinfo=timezone.utc)
POSTS = 150


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DemoExport]:
    out = tmp_path_factory.mktemp("demo") / "inbox"
    return {e.platform: e for e in generate_exports(out, posts_per_platform=POSTS, seed=3, now=NOW)}


def platform_yaml(name: str) -> dict:
    return yaml.safe_load((DEFAULT_CONFIG_DIR / "platforms" / f"{name}.yaml").read_text())


def yaml_columns(name: str) -> list[str]:
    """Every native column the platform YAML maps (a field may name several columns)."""
    columns = []
    for value in platform_yaml(name)["fields"].values():
        columns.extend(value if isinstance(value, list) else [value])
    return columns


def dig(record: dict, dotted: str) -> tuple[bool, object]:
    """(present, value) of a dotted key in a nested JSON record."""
    value: object = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def json_records(export: DemoExport) -> tuple[list[dict], int]:
    """The records of a JSON or JSONL export, and how many JSONL lines failed to parse."""
    if export.path.suffix == ".json":
        document = json.loads(export.path.read_text(encoding="utf-8"))
        assert isinstance(document, dict) and isinstance(document["data"], list)
        return document["data"], 0
    records, broken = [], 0
    for line in export.path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            broken += 1
    return records, broken


def test_every_platform_lands_in_its_inbox_folder_with_its_native_extension(exports):
    assert tuple(exports) == DEMO_PLATFORMS
    for platform, export in exports.items():
        assert platform_yaml(platform)["inbox"] == platform
        assert export.path.name == f"{platform}_demo_20261102.{EXTENSIONS[platform]}"
        assert export.path.parent.name == platform
        assert export.path.is_file()
        assert export.path.suffix.lstrip(".") in platform_yaml(platform)["formats"]
        assert not list(export.path.parent.glob("*.tmp")), "the temporary file must be renamed away"
        assert export.rows == POSTS
        assert 0 < export.dirty_rows < export.rows // 10


def test_csv_exports_parse_with_exactly_the_mapped_columns(exports):
    facebook = pd.read_csv(exports["facebook"].path, dtype=str, keep_default_na=False)
    assert list(facebook.columns) == [
        "status_id", "status_message", "link_name", "status_type", "status_link", "status_published",
        "num_likes", "num_comments", "num_shares", "page_name",
    ]  # fmt: skip
    care = pd.read_csv(exports["customer_care"].path, dtype=str, keep_default_na=False)
    assert list(care.columns) == [
        "tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id", "in_response_to_tweet_id"
    ]  # fmt: skip
    for platform, frame in (("facebook", facebook), ("customer_care", care)):
        assert len(frame) == exports[platform].rows
        assert set(yaml_columns(platform)) <= set(frame.columns)


def test_json_exports_carry_every_mapped_key_and_only_the_broken_lines_fail(exports):
    instagram, broken = json_records(exports["instagram"])
    assert broken == 0 and len(instagram) == exports["instagram"].rows
    tiktok, broken = json_records(exports["tiktok"])
    assert broken == 1
    assert len(tiktok) + broken == exports["tiktok"].rows
    for platform, records in (("instagram", instagram), ("tiktok", tiktok)):
        for column in yaml_columns(platform):
            assert all(dig(record, column)[0] for record in records), f"{platform}: {column} missing from a record"
    labels = [dig(r, "music.brand")[1] for r in tiktok]
    assert all(dig(r, "music.brand")[0] for r in tiktok)  # the labelled key is always present, null when unsponsored
    sponsored = [label for label in labels if label]
    assert 0.1 < len(sponsored) / len(tiktok) < 0.3
    assert set(sponsored) <= {b.name for b in demo_brands()}
    assert {frozenset(r) for r in instagram} == {
        frozenset({"id", "caption", "username", "timestamp", "permalink", "like_count", "comments_count", "media_type"})
    }


def test_timestamps_use_each_platforms_native_format_and_fall_in_the_last_30_days(exports):
    facebook = pd.read_csv(exports["facebook"].path, dtype=str, keep_default_na=False)["status_published"]
    care = pd.read_csv(exports["customer_care"].path, dtype=str, keep_default_na=False)["created_at"]
    instagram = [r["timestamp"] for r in json_records(exports["instagram"])[0]]
    tiktok = [r["create_time"] for r in json_records(exports["tiktok"])[0]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", t) for t in instagram if t != BAD_DATE)
    assert all(isinstance(t, int) for t in tiktok if t != BAD_DATE)
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \+0000 \d{4}", care.iloc[0])
    parsed = {
        "facebook": [
            datetime.strptime(t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone(timedelta(hours=-5)))
            for t in facebook if t != BAD_DATE
        ],
        "customer_care": [datetime.strptime(t, "%a %b %d %H:%M:%S %z %Y") for t in care if t != BAD_DATE],
        "instagram": [datetime.strptime(t, "%Y-%m-%dT%H:%M:%S%z") for t in instagram if t != BAD_DATE],
        "tiktok": [datetime.fromtimestamp(t, tz=timezone.utc) for t in tiktok if t != BAD_DATE],
    }  # fmt: skip
    for platform, times in parsed.items():
        assert len(times) >= exports[platform].rows - exports[platform].dirty_rows, platform
        assert NOW - timedelta(days=30) <= min(times) and max(times) <= NOW, platform


def test_the_pipeline_quarantines_exactly_the_dirty_rows(exports, settings):
    reasons = {}
    for platform, export in exports.items():
        config = settings.platform(platform)
        read = read_export(export.path, None, config.read)
        batch = map_batch(read, config, "demo", export.path.name, settings.ingestion, now=pd.Timestamp(NOW))
        assert batch.rows_in == export.rows
        assert len(batch.quarantine) == export.dirty_rows, batch.quarantine[["source_row", "reason"]]
        assert len(batch.posts) == export.rows - export.dirty_rows
        assert batch.posts["native_id"].is_unique and batch.posts["text"].ne("").any()
        reasons[platform] = set(batch.quarantine["field"])
    assert reasons["facebook"] == {"text", "created_at", "likes", "native_id"}
    assert reasons["instagram"] == {"native_id", "created_at", "likes", "comments"}
    assert reasons["tiktok"] == {"native_id", "created_at", "likes", "views", "record"}
    assert reasons["customer_care"] == {"text", "created_at", "native_id"}


def test_texts_are_varied_posts_naming_dictionary_brands(exports):
    care = pd.read_csv(exports["customer_care"].path, dtype=str, keep_default_na=False)
    customer_tweets = care.loc[care["inbound"] == "True", "text"].tolist()
    texts = {
        "facebook": pd.read_csv(exports["facebook"].path, dtype=str, keep_default_na=False)["status_message"].tolist(),
        "customer_care": customer_tweets,  # brand replies address the customer; their author_id is the label
        "instagram": [r["caption"] for r in json_records(exports["instagram"])[0]],
        "tiktok": [r["desc"] for r in json_records(exports["tiktok"])[0]],
    }
    entities = yaml.safe_load((DEFAULT_CONFIG_DIR / "entities.yaml").read_text())["entities"]
    surfaces = {f"@{h}".lower() for e in entities for h in e.get("handles", [])}
    surfaces |= {f"#{t}".lower() for e in entities for t in e.get("hashtags", [])}
    aliases = [a for e in entities for a in e.get("aliases", [])]
    for platform, posts in texts.items():
        assert len(set(posts)) > 0.8 * len(posts), f"{platform}: texts should vary"
        named = [
            t for t in posts
            if any(w.lower().rstrip(".,!?:") in surfaces for w in t.split()) or any(a in t for a in aliases)
        ]  # fmt: skip
        assert len(named) > 0.6 * len(posts), platform
    social = texts["instagram"] + texts["tiktok"] + texts["facebook"]
    assert any(not t.isascii() for t in social), "some posts carry emoji"
    assert any("https://" in t for t in social), "some posts carry links"
    assert any("@" in t for t in social) and any("#" in t for t in social)


def test_brand_vocabulary_is_the_entity_dictionarys():
    entities = {e["id"]: e for e in yaml.safe_load((DEFAULT_CONFIG_DIR / "entities.yaml").read_text())["entities"]}
    brands = demo_brands()
    assert [b.entity_id for b in brands] == [i for i, e in entities.items() if e.get("type", "ORG") == "ORG"]
    for brand in brands:
        entity = entities[brand.entity_id]
        assert brand.name == entity["name"]
        assert brand.aliases == tuple(entity["aliases"])
        assert brand.handles == tuple(entity["handles"]) and brand.hashtags == tuple(entity["hashtags"])
        if brand.support:
            assert brand.support.lower() in entity["handles"]
    assert {b.support for b in brands if b.support} >= {"AppleSupport", "comcastcares"}


def test_the_demo_follows_the_loaded_configuration_not_a_copy_of_it(tmp_path):
    """A renamed column, another record path and time zone, and a new brand in the dictionary reach the files."""
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    facebook = yaml.safe_load((config / "platforms" / "facebook.yaml").read_text())
    facebook["fields"].update(text=["message", "headline"], likes="reactions")
    facebook["created_at"] = {"format": "%d/%m/%Y %H:%M", "timezone": "Europe/Berlin"}
    (config / "platforms" / "facebook.yaml").write_text(yaml.safe_dump(facebook))
    instagram = yaml.safe_load((config / "platforms" / "instagram.yaml").read_text())
    instagram["read"]["records_path"] = "page.items"
    instagram["fields"]["author"] = "owner.username"
    (config / "platforms" / "instagram.yaml").write_text(yaml.safe_dump(instagram))
    dictionary = yaml.safe_load((config / "entities.yaml").read_text())
    dictionary["entities"] = [e for e in dictionary["entities"] if e.get("type", "ORG") != "ORG"]
    dictionary["entities"] += [
        {"id": "acme", "name": "Acme", "type": "ORG", "aliases": ["Acme"], "handles": ["acme", "acmehelp"],
         "hashtags": ["acme"]},
        {"id": "apple", "name": "Apple", "type": "ORG", "aliases": ["Apple"], "handles": ["applesupport"],
         "hashtags": ["apple"]},
    ]  # fmt: skip
    (config / "entities.yaml").write_text(yaml.safe_dump(dictionary))
    settings = load_settings(config, env={"MLDS_HOME": str(tmp_path / "home")})

    exports = {e.platform: e for e in generate_exports(tmp_path / "inbox", 60, seed=2, now=NOW, settings=settings)}
    frame = pd.read_csv(exports["facebook"].path, dtype=str, keep_default_na=False)
    assert {"message", "headline", "reactions"} <= set(frame.columns)
    assert not {"status_message", "link_name", "num_likes"} & set(frame.columns)
    assert set(frame["page_name"]) == {"Acme", "Apple"}
    assert frame["status_published"].str.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d|" + BAD_DATE).all()
    document = json.loads(exports["instagram"].path.read_text())
    assert all("username" in r["owner"] for r in document["page"]["items"])
    texts = " ".join(frame["message"]).lower()
    assert "acme" in texts and "nike" not in texts
    care = pd.read_csv(exports["customer_care"].path, dtype=str, keep_default_na=False)
    assert set(care.loc[care["inbound"] == "False", "author_id"]) == {"AppleSupport"}  # acme has no support extras
    posts = {}
    for platform, export in exports.items():  # and MLDS reads every file back through the same configuration
        platform_config = settings.platform(platform)
        read = read_export(export.path, None, platform_config.read)
        batch = map_batch(read, platform_config, "demo", export.path.name, settings.ingestion, now=pd.Timestamp(NOW))
        assert len(batch.quarantine) == export.dirty_rows, (platform, batch.quarantine[["field", "reason"]])
        posts[platform] = batch.posts
    # the same seed under the shipped configuration: the same instants, written in UTC-5 there, Berlin here
    shipped = load_settings(DEFAULT_CONFIG_DIR, env={"MLDS_HOME": str(tmp_path / "home")})
    default = generate_facebook_csv(tmp_path / "default.csv", 60, seed=2, now=NOW, settings=shipped)
    read = read_export(default.path, None, shipped.platform("facebook").read)
    expected = map_batch(read, shipped.platform("facebook"), "d", "d.csv", shipped.ingestion, now=pd.Timestamp(NOW))
    assert sorted(posts["facebook"]["created_at"]) == sorted(expected.posts["created_at"].dt.floor("min"))


def test_customer_care_threads_link_replies_to_their_parents(exports):
    care = pd.read_csv(exports["customer_care"].path, dtype=str, keep_default_na=False)
    ids = set(care["tweet_id"])
    brands = {"AppleSupport", "AmazonHelp", "Uber_Support", "Delta", "ChipotleTweets", "comcastcares", "SpotifyCares"}
    assert set(care["inbound"]) == {"True", "False"}
    assert set(care.loc[care["inbound"] == "False", "author_id"]) <= brands
    assert care.loc[care["inbound"] == "True", "author_id"].str.fullmatch(r"\d{6}").all()
    replies = care[care["in_response_to_tweet_id"] != ""]
    assert len(replies) > len(care) // 3
    orphans = ~replies["in_response_to_tweet_id"].isin(ids)
    assert orphans.sum() <= 1  # only a reply to the dirty row whose tweet_id was blanked
    by_id = care.drop_duplicates("tweet_id").set_index("tweet_id")
    for _, reply in replies[(replies["tweet_id"] != "") & ~orphans].iterrows():
        parent = by_id.loc[reply["in_response_to_tweet_id"]]
        assert reply["tweet_id"] in parent["response_tweet_id"].split(",")
        assert parent["inbound"] != reply["inbound"]  # customers and brands take turns


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    first = generate_exports(tmp_path / "a", posts_per_platform=60, seed=11, now=NOW)
    again = generate_exports(tmp_path / "b", posts_per_platform=60, seed=11, now=NOW)
    other = generate_exports(tmp_path / "c", posts_per_platform=60, seed=12, now=NOW)
    for a, b, c in zip(first, again, other, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes(), a.platform
        assert a.path.read_bytes() != c.path.read_bytes(), a.platform


def test_default_now_is_today_so_runs_on_one_day_write_the_same_bytes(tmp_path):
    first = generate_exports(tmp_path / "a", posts_per_platform=20)
    again = generate_exports(tmp_path / "b", posts_per_platform=20)
    today = datetime.now(timezone.utc)
    if any(a.path.name != b.path.name for a, b in zip(first, again, strict=True)):
        pytest.skip("the UTC day changed between the two runs")
    for a, b in zip(first, again, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes(), a.platform
    assert first[0].path.name == f"facebook_demo_{today:%Y%m%d}.csv"
    published = pd.read_csv(first[0].path, dtype=str, keep_default_na=False)["status_published"]
    latest = max(
        datetime.strptime(t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone(timedelta(hours=-5)))
        for t in published if t != BAD_DATE
    )  # fmt: skip
    assert latest <= today


def test_facebook_csv_clean_and_dirty_at_benchmark_shape(tmp_path):
    clean = generate_facebook_csv(tmp_path / "clean.csv", 5000, seed=1, dirty=False, now=NOW)
    assert (clean.rows, clean.dirty_rows) == (5000, 0)
    frame = pd.read_csv(clean.path, dtype=str, keep_default_na=False)
    assert len(frame) == 5000 and frame["status_id"].is_unique
    assert frame["status_id"].str.fullmatch(r"\d+_\d+").all()
    assert frame["num_likes"].str.fullmatch(r"\d+").all()
    dirty = generate_facebook_csv(tmp_path / "dirty.csv", 5000, seed=1, now=NOW)
    assert (dirty.rows, dirty.dirty_rows) == (5000, 5)
    frame = pd.read_csv(dirty.path, dtype=str, keep_default_na=False)
    assert frame["status_id"].duplicated().sum() == 1
    assert (frame["status_published"] == BAD_DATE).sum() == 1
    assert not list(Path(tmp_path).glob("*.tmp"))


def test_too_few_rows_for_the_dirty_rows_is_refused(tmp_path):
    with pytest.raises(ValueError, match="n must be"):
        generate_facebook_csv(tmp_path / "tiny.csv", 5)
    assert generate_facebook_csv(tmp_path / "tiny.csv", 5, dirty=False).rows == 5
    assert not (tmp_path / "tiny.csv.tmp").exists()
