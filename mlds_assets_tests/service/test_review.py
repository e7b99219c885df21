"""`mlds review`: one decision covers many items (--all-like, a bulk decisions file), learned aliases are
listed and reversible. The queue is written by the real resolver into the lake the commands read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlds_assets.cli import main
from mlds_assets.core.entities import Entity, EntityDictionary
from mlds_assets.core.resolution import load_decisions, resolve, surface_id

TABLE = EntityDictionary.from_entities(
    [Entity("delta", "Delta Air Lines", aliases=("Delta Air Lines",)), Entity("uber", "Uber", aliases=("Uber",))]
)
ROWS = [  # post, surface, label
    ("a", "Flight 12 Crew", "ORG"), ("b", "flight crew", "PERSON"), ("c", "Flight Crew", "ORG"),
    ("d", "Gate Agent", "ORG"), ("e", "Delta Air Line", "ORG"), ("f", "Ubr", "PERSON"),
]  # fmt: skip


def write_resolution(settings, decisions=None):
    enhanced = pd.DataFrame(
        [{"post_id": p, "platform": "x", "surface": s, "label": label, "confidence": 0.75, "entity_id": None,
          "method": "ner", "model_version": "v"} for p, s, label in ROWS]
    )  # fmt: skip
    conservative = pd.DataFrame(columns=["post_id", "platform", "entity_id", "surface", "method", "confidence"])
    result = resolve(conservative, enhanced, TABLE, decisions or {})
    base = Path(settings.lake_base) / "cross_platform"
    base.mkdir(parents=True, exist_ok=True)
    result.canonical.to_parquet(base / "resolved_entities.parquet")
    result.mentions.to_parquet(base / "entity_mentions.parquet")
    result.review.to_parquet(base / "entity_review_queue.parquet")
    return result


@pytest.fixture
def cli_env(settings, config_dir, monkeypatch):
    monkeypatch.setenv("MLDS_HOME", str(settings.home))
    monkeypatch.setenv("MLDS_CONFIG", str(config_dir))
    return settings


def test_list_ranks_and_decide_all_like_covers_every_matching_item(cli_env, capsys):
    result = write_resolution(cli_env)
    assert result.review["surface"].tolist()[:2] == ["Flight Crew", "Flight 12 Crew"]  # 2 posts, then 1
    assert main(["review", "list"]) == 0
    printed = capsys.readouterr().out
    assert "uber (86)" in printed and "4 open items" in printed  # "Ubr": a single word, shown with its score
    assert main(["review", "decide", "--all-like", "flight*", "--reject"]) == 0
    decisions = load_decisions(cli_env.entity_decisions_path)
    assert set(decisions) == {surface_id("flight crew"), surface_id("flight 12 crew")}
    after = write_resolution(cli_env, decisions)
    assert after.review["surface"].tolist() == ["Gate Agent", "Ubr"]
    assert main(["review", "decide", "--all-like", "nothing*", "--reject"]) == 2


def test_a_bulk_decisions_file_is_exported_edited_and_applied(cli_env, tmp_path, capsys):
    write_resolution(cli_env)
    path = tmp_path / "queue.csv"
    assert main(["review", "export", str(path)]) == 0
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert frame.loc[frame["surface"] == "Ubr", "candidates"].item() == "uber (86)"
    frame.loc[frame["surface"] == "Ubr", ["action", "target"]] = ["merge", "uber"]
    frame.loc[frame["surface"] == "Gate Agent", "action"] = "reject"
    frame.to_csv(path, index=False)
    assert main(["review", "apply", str(path)]) == 0
    after = write_resolution(cli_env, load_decisions(cli_env.entity_decisions_path))
    assert set(after.review["surface"]) == {"Flight Crew", "Flight 12 Crew"}
    assert after.mentions.set_index("post_id").loc["f", "canonical_id"] == "uber"

    frame.loc[frame["surface"] == "Gate Agent", ["action", "target"]] = ["merge", "no_such_entity"]
    frame.to_csv(path, index=False)
    assert main(["review", "apply", str(path)]) == 2  # nothing written when one row is wrong
    assert "no canonical entity 'no_such_entity'" in capsys.readouterr().err


def test_learned_aliases_are_listed_and_one_decision_reverses_one(cli_env, capsys):
    write_resolution(cli_env)
    assert main(["review", "aliases"]) == 0
    printed = capsys.readouterr().out
    assert "'Delta Air Line'" in printed and "1 learned aliases" in printed
    cid = surface_id("Delta Air Line")
    assert main(["review", "decide", cid, "--reject"]) == 0  # not in the open queue: a learned alias's id
    after = write_resolution(cli_env, load_decisions(cli_env.entity_decisions_path))
    assert after.canonical.set_index("entity_id").loc["delta", "aliases"] == []
