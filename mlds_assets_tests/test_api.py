"""The read API on the demo data, in process (FastAPI's TestClient) and as a real server under load."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from benchmarks.api_load import demo_paths, load, running_api
from mlds_assets.api import create_app
from mlds_assets.core.analytics import value
from mlds_assets.settings import load_settings


@pytest.fixture(scope="module")
def client(demo_settings):
    return TestClient(create_app(demo_settings))


def test_health_platforms_and_backlog(client, demo_settings):
    assert client.get("/health").json()["status"] == "ok"
    platforms = client.get("/platforms").json()["platforms"]
    assert set(platforms) == set(demo_settings.platforms)
    assert all(p["posts"] > 0 and p["semantic_coverage"] == 1.0 for p in platforms.values())
    backlog = client.get("/backlog").json()["backlog"]
    assert all(b["complete"] == b["posts"] and b["pending_sentiment"] == 0 for b in backlog.values())


def test_metrics_per_platform_and_across_platforms(client):
    facebook = client.get("/metrics/facebook").json()
    assert facebook["processing_level"] == "full" and facebook["last_updated"]
    import pandas as pd

    rows = pd.DataFrame(facebook["rows"])
    assert value(rows, "posts") > 0
    voice = client.get("/metrics/cross-platform", params={"metric": "share_of_voice"}).json()["rows"]
    assert voice and {r["metric"] for r in voice} == {"share_of_voice"}
    missing = client.get("/metrics/myspace")
    assert missing.status_code == 404 and "unknown platform" in missing.json()["detail"]


def test_entities_and_search_with_filters(client):
    entities = client.get("/entities", params={"limit": 5}).json()
    assert len(entities["entities"]) == 5 and entities["total"] >= 5
    mentions = [e["mentions"] for e in entities["entities"]]
    assert mentions == sorted(mentions, reverse=True)

    hits = client.get("/posts/search", params={"q": "delayed flight", "platform": "tiktok", "limit": 5}).json()
    assert hits["mode"] == "hybrid" and 0 < len(hits["hits"]) <= 5
    assert {h["platform"] for h in hits["hits"]} == {"tiktok"}
    negative = client.get("/posts/search", params={"q": "battery", "mode": "keyword", "sentiment": "negative"})
    assert all(h["sentiment_label"] == "negative" for h in negative.json()["hits"])
    assert client.get("/posts/search", params={"q": "x", "mode": "psychic"}).status_code == 422


def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/openapi.json").json()
    assert {"/health", "/platforms", "/metrics/{platform}", "/metrics/cross-platform", "/entities", "/posts/search",
            "/backlog"} <= set(schema["paths"])  # fmt: skip
    docs = client.get("/docs").text
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_an_api_key_from_the_environment_guards_every_data_route(demo_settings, monkeypatch):
    monkeypatch.setenv(demo_settings.api.api_key_env, "s3cret-key")
    guarded = TestClient(create_app(demo_settings))
    assert guarded.get("/platforms").status_code == 401
    assert guarded.get("/platforms", headers={"X-API-Key": "wrong"}).status_code == 401
    assert guarded.get("/platforms", headers={"X-API-Key": "s3cret-key"}).status_code == 200
    assert guarded.get("/health").status_code == 200  # liveness needs no key
    assert "s3cret-key" not in guarded.get("/openapi.json").text


def test_the_api_loads_the_encoder_and_opens_the_store_at_start_up(demo_settings):
    """Issue 19 item 7: start-up loads what search needs, so the first /posts/search loads nothing; every
    request reads through the one store handle."""
    from mlds_assets.core.embeddings import query_encoder

    app = create_app(demo_settings)
    assert app.state.search.loaded == {"store": False, "encoder": False}  # nothing before start-up
    with TestClient(app) as started:  # the context runs the start-up (lifespan)
        assert started.get("/health").json()["loaded"] == {"store": True, "encoder": True}
        handle, encoders_loaded = app.state.search.store(), query_encoder.cache_info().misses
        assert handle.searchable  # the warm-up searched: requests search through LanceDB's async API
        for mode in ("semantic", "hybrid", "keyword"):
            hits = started.get("/posts/search", params={"q": "delayed flight", "mode": mode, "limit": 3}).json()
            assert len(hits["hits"]) == 3, hits
            _assert_same_hits(hits["hits"], _sync_hits(demo_settings, "delayed flight", mode, 3), mode)
        assert started.get("/platforms").status_code == 200
        assert query_encoder.cache_info().misses == encoders_loaded  # no encoder was loaded by a request
        assert app.state.search.store() is handle


def _sync_hits(settings, query: str, mode: str, limit: int, platform: str | None = None) -> list[dict]:
    """What the CLI's search finds, as the API's fallback path (pandas) writes it."""
    from mlds_assets.api import HIT_COLUMNS, _records
    from mlds_assets.service.store import search

    hits = search(settings, query, mode=mode, limit=limit, platform=platform)
    return _records(hits[[c for c in HIT_COLUMNS if c in hits.columns]])


def _assert_same_hits(served: list[dict], expected: list[dict], mode: str) -> None:
    """The same posts in the same order with the same values (times, lists, nulls); numbers to rounding
    (pandas writes 10 significant digits, the Arrow path all of a float's)."""
    assert [h["post_id"] for h in served] == [h["post_id"] for h in expected], mode
    for got, want in zip(served, expected, strict=True):
        assert set(got) == set(want), mode
        for key, wanted in want.items():
            if isinstance(wanted, float):
                assert got[key] == pytest.approx(wanted, rel=1e-4, abs=1e-6), (mode, key)
            else:
                assert got[key] == wanted, (mode, key)


def test_served_hits_are_written_as_the_cli_search_finds_them_in_every_mode(demo_settings):
    """The async path writes JSON from Arrow, the fallback from pandas: the same records either way, for
    queries of every mode arriving at once (their vectors are embedded as one batch)."""
    app = create_app(demo_settings)
    queries = [("refund for my order", "hybrid"), ("delayed flight", "semantic"), ("order", "keyword"),
               ("battery died", "semantic"), ("thanks", "hybrid")]  # fmt: skip
    with TestClient(app) as started:
        from concurrent.futures import ThreadPoolExecutor

        def served(query: tuple[str, str]) -> list[dict]:
            response = started.get("/posts/search", params={"q": query[0], "mode": query[1], "limit": 8})
            return response.raise_for_status().json()["hits"]

        with ThreadPoolExecutor(max_workers=len(queries)) as pool:
            answers = list(pool.map(served, queries))
    for (query, mode), hits in zip(queries, answers, strict=True):
        assert hits, (query, mode)
        _assert_same_hits(hits, _sync_hits(demo_settings, query, mode, 8), mode)
    assert any(h["created_at"].endswith("Z") for h in answers[0])


def test_platforms_and_backlog_show_a_write_made_after_they_were_last_asked(demo_home_copy):
    """/platforms and /backlog keep what the store said until the store takes a commit: posts a run writes
    while the API is up are counted at the next request, not at its restart."""
    from mlds_assets.service.store import open_store
    from mlds_assets_tests.store.test_contract import records

    settings = load_settings(env={"MLDS_HOME": str(demo_home_copy)})
    with TestClient(create_app(settings)) as started:
        before = started.get("/platforms").json()["platforms"]["facebook"]
        backlog = started.get("/backlog").json()["backlog"]["facebook"]
        assert started.get("/platforms").json()["platforms"]["facebook"] == before
        new = records(3, start=900_000)
        assert open_store(settings).upsert(new) == 3  # another handle, as a run's
        after = started.get("/platforms").json()["platforms"]["facebook"]
        assert after["posts"] == before["posts"] + 3
        assert after["pending_sentiment"] == before["pending_sentiment"] + 3
        later = started.get("/backlog").json()["backlog"]["facebook"]
        assert later["posts"] == backlog["posts"] + 3
        assert later["pending_sentiment"] == backlog["pending_sentiment"] + 3


def test_a_broken_encoder_makes_semantic_search_a_clear_503_and_keyword_search_still_answers(tmp_path):
    """A model folder whose weights are corrupt (a truncated copy, say): start-up warns, /health says the
    encoder is not loaded, a semantic or hybrid search answers 503 naming the folder, keyword search works."""
    import shutil

    from mlds_assets.core.embeddings import default_embedding_model
    from mlds_assets.service.store import open_store
    from mlds_assets_tests.store.test_contract import records

    broken = tmp_path / "broken_minilm"
    shutil.copytree(default_embedding_model(), broken, ignore=shutil.ignore_patterns("model.safetensors"))
    (broken / "model.safetensors").write_bytes(b"not a model")
    settings = load_settings(env={"MLDS_HOME": str(tmp_path / "home"), "MLDS__EMBEDDINGS__MODEL": str(broken)})
    open_store(settings).upsert(records(4))
    with TestClient(create_app(settings)) as started:
        assert started.get("/health").json()["loaded"] == {"store": True, "encoder": False}
        for mode in ("semantic", "hybrid"):
            refused = started.get("/posts/search", params={"q": "shoes", "mode": mode})
            assert refused.status_code == 503, refused.text
            detail = refused.json()["detail"]
            assert detail.startswith(f"{mode} search unavailable") and str(broken) in detail
        keyword = started.get("/posts/search", params={"q": "shoes", "mode": "keyword"})
        assert keyword.status_code == 200 and len(keyword.json()["hits"]) == 2


def test_a_real_server_answers_twenty_concurrent_clients_without_errors(demo_settings):
    """Correctness under concurrency; the p95 itself is measured in `make bench` (benchmarks/api.py)."""
    with running_api(demo_settings) as url:
        result = load(url, demo_paths(demo_settings), clients=20, per_client=3)
    assert result["requests"] == 60 and result["errors"] == 0
    assert url.startswith("http://127.0.0.1:")


def test_mlds_api_with_two_worker_processes_serves_searches(demo_home_copy):
    """`api.workers: 2`: `mlds api` as users start it, uvicorn's workers each building the app from the same
    environment; searches of every mode and the data routes answer from both. Semantic and hybrid searches
    arriving together (each worker embeds them and searches the store several vectors to a query, a hybrid
    search's keyword leg meanwhile) each get the hits the CLI's search finds for them alone."""
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks.api_load import served_api

    env = {"MLDS_HOME": str(demo_home_copy), "MLDS__API__WORKERS": "2"}
    settings = load_settings(env=env)
    asked = [(query, platform, mode) for query in ("delayed flight", "battery died", "love it")
             for platform in (None, *sorted(settings.platforms)) for mode in ("semantic", "hybrid")]  # fmt: skip
    with served_api(env) as url:
        result = load(url, demo_paths(settings), clients=4, per_client=4)

        def search(asking: tuple[str, str | None, str]) -> list[dict]:
            text, platform, mode = asking
            params = {"q": text, "mode": mode, "limit": 5, **({"platform": platform} if platform else {})}
            return httpx.get(f"{url}/posts/search", params=params, timeout=60).raise_for_status().json()["hits"]

        with ThreadPoolExecutor(max_workers=len(asked)) as pool:
            answers = list(pool.map(search, asked))
    assert result["requests"] == 16 and result["errors"] == 0
    for (text, platform, mode), served in zip(asked, answers, strict=True):
        assert len(served) == 5 and all(hit["platform"] == (platform or hit["platform"]) for hit in served)
        assert all("vector" not in hit and "_rowid" not in hit for hit in served)
        _assert_same_hits(served, _sync_hits(settings, text, mode, 5, platform), f"{mode} {platform}")
