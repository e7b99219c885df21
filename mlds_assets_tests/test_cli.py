"""`mlds` end to end on a temporary MLDS_HOME with the persistent instance the CLI creates itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlds_assets.cli import main
from mlds_assets.core.sentiment import FinetunedEngine
from mlds_assets.demo.exports import DEMO_PLATFORMS, generate_exports
from mlds_assets.settings import load_settings
from mlds_assets_tests.conftest import DEMO_POSTS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MLDS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path / "home"


@pytest.fixture
def demo_home(demo_home_copy, monkeypatch) -> Path:
    """`mlds` pointed at a copy of the shared demo's home."""
    monkeypatch.setenv("MLDS_HOME", str(demo_home_copy))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return demo_home_copy


def test_demo_ingests_every_platform_and_status_reports_them(demo_run, demo_home, tmp_path, capsys):
    """`mlds demo` (the shared one, run through this CLI) says where to look; status reports every platform;
    the demo's generator writes byte-identical files again, and such a file is not ingested twice (on a copy
    of the demo's home)."""
    assert "make dev" in demo_run.printed and "127.0.0.1:3000" in demo_run.printed
    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["platforms"]) == set(DEMO_PLATFORMS)
    for name, numbers in report["platforms"].items():
        assert numbers["batches"] == 1, name
        assert numbers["posts"] > 0 and numbers["quarantined"] > 0, name  # the demo has dirty rows
        expected = {"batches", "failed_batches", "batches_in_progress", "posts", "duplicate_records", "quarantined",
                    "entities", "pending_sentiment", "sentiment_coverage", "semantic_coverage",
                    "last_ingested_at"}  # fmt: skip
        assert set(numbers) == expected
    assert (demo_home / "dagster_home" / "dagster.yaml").is_file()

    settings = load_settings(env={"MLDS_HOME": str(demo_home)})
    again = generate_exports(tmp_path / "again", DEMO_POSTS, settings=settings)
    assert len(again) == len(DEMO_PLATFORMS)
    for export in again:
        written = settings.inbox_dir / export.path.relative_to(tmp_path / "again")
        assert written.read_bytes() == export.path.read_bytes(), export.platform
        assert main(["ingest", str(export.path), "--platform", export.platform]) == 0
        assert "already ingested" in capsys.readouterr().out


def test_status_counts_batches_with_data_and_lists_failed_ones_apart(home, tmp_path, capsys):
    good, broken = tmp_path / "good.csv", tmp_path / "broken.csv"
    good.write_text("status_id,status_message,status_published\n1,hello Nike,2024-01-01 10:00:00\n")
    broken.write_text('status_id,status_message,status_published\n1,"never closed,2024-01-01 10:00:00\n')
    assert main(["ingest", str(good), "--platform", "facebook"]) == 0
    assert main(["ingest", str(broken), "--platform", "facebook"]) == 1
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    facebook = json.loads(capsys.readouterr().out)["platforms"]["facebook"]
    assert facebook["batches"] == 1 and facebook["posts"] == 1
    [(batch, error)] = facebook["failed_batches"].items()
    assert batch.startswith("broken-") and "broken.csv" in error
    assert main(["status"]) == 0
    assert f"facebook: batch {batch} failed" in capsys.readouterr().out


def test_ingest_rejects_unknown_platform_with_known_ones(home, tmp_path, capsys):
    export = tmp_path / "x.csv"
    export.write_text("a\n1\n")
    assert main(["ingest", str(export), "--platform", "myspace"]) == 2
    assert "unknown platform 'myspace'" in capsys.readouterr().err


def test_config_error_names_file_and_key(home, tmp_path, monkeypatch, capsys):
    config = tmp_path / "cfg"
    (config / "platforms").mkdir(parents=True)
    (config / "global.yaml").write_text("processing:\n  batch_sise: 10\n")
    monkeypatch.setenv("MLDS_CONFIG", str(config))
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "global.yaml" in err and "processing.batch_sise" in err and "unknown key" in err


def test_console_script_and_definitions_validate(home):
    """The installed entry point runs, and Dagster's own loader accepts the code location."""
    help_text = subprocess.run([sys.executable, "-m", "mlds_assets.cli", "--help"], capture_output=True, text=True)
    assert "ingest" in help_text.stdout and "status" in help_text.stdout
    dagster = Path(sys.executable).parent / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    env = {"DAGSTER_HOME": str(home), "MLDS_HOME": str(home), "PATH": str(Path(sys.executable).parent)}
    validate = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    assert validate.returncode == 0, validate.stderr[-2000:]
    assert "Validation successful" in validate.stderr + validate.stdout


def test_store_rebuild_and_search_from_the_command_line(demo_home, capsys):
    import shutil

    home = demo_home
    assert main(["search", "flight", "--json", "--limit", "50"]) == 0
    before = sorted(hit["post_id"] for hit in json.loads(capsys.readouterr().out))
    assert before

    shutil.rmtree(home / "store")
    assert main(["store", "rebuild"]) == 0
    assert "facebook" in capsys.readouterr().out
    assert main(["search", "flight", "--json", "--limit", "50"]) == 0
    assert sorted(hit["post_id"] for hit in json.loads(capsys.readouterr().out)) == before
    assert main(["search", "flight", "--platform", "tiktok", "--json"]) == 0
    assert {hit["platform"] for hit in json.loads(capsys.readouterr().out)} <= {"tiktok"}


GOLD = """I love this phone,Positive emotion
"great service, thank you",Positive emotion
"amazing, so happy",Positive emotion
best purchase ever,Positive emotion
I hate this phone,Negative emotion
"terrible service, never again",Negative emotion
"awful, so angry",Negative emotion
worst purchase ever,Negative emotion
the shop opens at nine,No emotion toward brand or product
what is this,I can't tell
"""


@pytest.fixture
def gold(tmp_path) -> Path:
    path = tmp_path / "gold.csv"
    path.write_text("text,label\n" + GOLD * 3)
    return path


def test_eval_sentiment_prints_accuracy_and_macro_f1(home, gold, capsys):
    assert main(["eval", "sentiment", "--gold", str(gold), "--text-col", "text", "--label-col", "label"]) == 0
    printed = capsys.readouterr().out
    assert "engine: minilm-finetuned" in printed  # the default engine, the model this package ships
    assert "confusion (rows gold, columns predicted):" in printed and "precision" in printed
    macro = [line for line in printed.splitlines() if line.startswith("macro_f1: ")]
    assert len(macro) == 1 and 0.0 < float(macro[0].split(": ")[1]) <= 1.0
    assert "I can't tell 3" in printed  # skipped rows are reported, not lost

    assert main(["eval", "sentiment", "--gold", str(gold), "--text-col", "text", "--label-col", "label", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 27 and report["skipped"] == 3 and 0 <= report["accuracy"] <= 1
    assert set(report["per_class"]) == {"negative", "neutral", "positive"}
    assert sum(n for row in report["confusion"].values() for n in row.values()) == 27


def test_eval_sentiment_takes_several_gold_files_and_a_model_folder(home, gold, tmp_path, capsys):
    from mlds_assets.core.sentiment_finetune import SHIPPED_DIR

    other = tmp_path / "other.csv"
    other.write_text("text,label\nI love it,4\nI hate it,0\nit is tuesday,2\n")
    args = ["--gold", str(gold), str(other), "--text-col", "text", "--label-col", "label", "--json"]
    assert main(["eval", "sentiment", *args, "--model", str(SHIPPED_DIR)]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["gold"] for r in reports] == ["gold.csv", "other.csv"] and reports[1]["rows"] == 3
    assert reports[0]["engine"] == "minilm-finetuned"


def test_numeric_labels_other_than_sentiment140s_ask_for_a_label_map(home, tmp_path, capsys):
    path = tmp_path / "numeric.csv"
    path.write_text("text,label\nI love it,2\nI hate it,0\nit is tuesday,1\n")
    args = ["eval", "sentiment", "--gold", str(path), "--text-col", "text", "--label-col", "label", "--engine", "vader"]
    assert main(args) == 2
    assert "--label-map" in capsys.readouterr().err
    assert main([*args, "--label-map", "0=negative,1=neutral,2=positive", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 3


def test_train_then_eval_the_embedding_classifier(home, gold, capsys):
    args = ["--gold", str(gold), "--text-col", "text", "--label-col", "label"]
    assert main(["train", "sentiment", *args]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert Path(trained["model"]).parent == home / "models" / "sentiment"
    assert trained["training_data_sha256"] and "holdout_macro_f1" in trained
    assert trained["skipped_rows"] == {"I can't tell": 3}

    assert main(["eval", "sentiment", "--engine", "embedding-classifier", *args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] == "embedding-classifier"
    assert report["model_version"].startswith(trained["version"] + "+mask:")  # scored as in production: masked


def test_eval_with_a_wrong_column_names_the_file_and_column(home, gold, capsys):
    assert main(["eval", "sentiment", "--gold", str(gold), "--text-col", "tweet", "--label-col", "label"]) == 2
    assert "gold.csv: no column 'tweet'" in capsys.readouterr().err


def test_unloadable_transformers_model_fails_fast_with_its_name(home, gold, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MLDS__SENTIMENT__TRANSFORMERS__MODEL", str(tmp_path / "no-such-model"))
    args = ["eval", "sentiment", "--engine", "transformers", "--gold", str(gold), "--text-col", "text"]
    assert main([*args, "--label-col", "label"]) == 2
    assert "no-such-model" in capsys.readouterr().err


ENTITY_GOLD = """text,target
Loving my new iPad 2 already,iPad
the google maps app is great,Other Google product or service
nothing about brands here,
Steve Jobs on stage again,Apple
"""


def test_eval_entities_reports_resolution_accuracy_and_each_step(home, tmp_path, capsys):
    gold = tmp_path / "targets.csv"
    gold.write_text(ENTITY_GOLD)
    dictionary = REPO / "mlds_assets_tests" / "fixtures" / "brand_emotion_entities.yaml"
    args = ["eval", "entities", "--gold", str(gold), "--text-col", "text", "--target-col", "target"]
    args += ["--dictionary", str(dictionary), "--target-map", "Other Google product or service=google", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["posts"] == 4 and report["posts_with_target"] == 3
    assert report["resolution_accuracy"] == 1.0  # iPad 2 -> ipad, google maps -> google, Steve Jobs -> apple
    assert report["conservative_recall"] < report["resolved_recall"]  # lower-case "google" needs the ruler
    assert {"enhanced_precision", "enhanced_recall", "review_queue"} <= set(report)


def test_finetune_continues_from_the_shipped_model_on_a_teams_labels(home, tmp_path, capsys):
    """Domain adaptation: `--method finetune --gold` starts from the shipped model (not from scratch), and
    reports the shipped model's scores beside the adapted one's on the team's held-out labels."""
    words = {"positive": ["love", "great", "perfect", "happy", "best"], "negative": ["hate", "awful", "broken",
             "angry", "worst"], "neutral": ["opens", "ships", "closes", "starts", "moves"]}  # fmt: skip
    rows = [f"{w} {topic},{label}" for label, ws in words.items() for w in ws for topic in ("order", "router")]
    path = tmp_path / "mine.csv"
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    args = ["--gold", str(path), "--text-col", "text", "--label-col", "label", "--method", "finetune"]
    out = tmp_path / "adapted"
    assert main(["train", "sentiment", *args, "--epochs", "1", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    trained = json.loads(captured.out)
    assert "epoch 1/1 step" in captured.err  # progress
    shipped = FinetunedEngine()
    assert trained["adapted_from"] == shipped.version and trained["top_layers"] == shipped.meta["top_layers"]
    assert set(trained["test_scores"]["mine.csv"]) == {"before", "after"}
    assert trained["gold"]["train"] + trained["gold"]["val"] + trained["gold"]["test"] == 30
    assert FinetunedEngine(out).version != shipped.version


def test_keyword_search_from_the_command_line_loads_neither_dagster_nor_an_encoder(home, tmp_path):
    """Issue 19 item 7: a keyword search opens the store and answers; the asset graph (Dagster), the
    sentence encoder and the other commands' code (training, review, landing, the lake's DuckDB, the
    object-storage paths' fsspec) are never imported for it."""
    from mlds_assets.service.store import open_store
    from mlds_assets.settings import load_settings
    from mlds_assets_tests.store.test_contract import records

    open_store(load_settings()).upsert(records(6))
    script = (
        "import json, sys\n"
        "from mlds_assets.cli import main\n"
        "code = main(['search', 'post', '--mode', 'keyword', '--json'])\n"
        "print(json.dumps({'code': code, 'dagster': 'dagster' in sys.modules,"
        " 'encoder': 'sentence_transformers' in sys.modules,"
        " 'others': sorted(m for m in sys.modules"
        " if m.startswith(('mlds_assets.core', 'duckdb', 'upath', 'fsspec')))}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    hits, outcome = done.stdout.strip().splitlines()
    assert json.loads(outcome) == {"code": 0, "dagster": False, "encoder": False, "others": []}
    assert len(json.loads(hits)) > 0


def test_enrich_prints_the_warnings_of_its_checks(home, capsys, monkeypatch):
    """Issue 19 item 10: a run whose WARN check fired is not reported as a plain "ok"."""
    import mlds_assets.service.enrich as service_enrich

    outcome = {"platform": "twcs", "batch": "b1", "stage": "entities", "status": "ok",
               "checks_warned": ["entity_review_queue"]}  # fmt: skip
    monkeypatch.setattr(service_enrich, "enrich", lambda *args, **kwargs: [outcome])
    assert main(["enrich", "--only", "entities"]) == 0
    printed = capsys.readouterr().out
    assert "ok, warned" in printed and "WARN entity_review_queue" in printed
