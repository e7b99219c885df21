"""The Weaviate adapter's own logic against a FAKE client (no Weaviate server can run here): collection
naming and schema, id derivation, failed-object surfacing, retries, secrets. The same store runs the real
contract suite in test_contract.py when MLDS_TEST_WEAVIATE_URL points at a server."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from weaviate.exceptions import WeaviateConnectionError
from weaviate.util import generate_uuid5

from mlds_assets.core.ids import post_id
from mlds_assets.store import PostStore, StoreWriteError
from mlds_assets.store.weaviate_store import WeaviateConnection, WeaviatePostStore, with_retries


class FakeBatch:
    def __init__(self, collection):
        self.collection = collection

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_object(self, properties, uuid, vector=None):
        if self.collection.reject and properties.get("native_id") in self.collection.reject:
            failed = SimpleNamespace(object_=SimpleNamespace(uuid=uuid), message="invalid date")
            self.collection.batch.failed_objects.append(failed)
            return
        self.collection.objects[uuid] = (properties, vector)


class FakeCollection:
    def __init__(self, name, properties, vector_config):
        self.name, self.properties, self.vector_config = name, properties, vector_config
        self.objects: dict = {}
        self.reject: set = set()
        self.batch = SimpleNamespace(failed_objects=[], fixed_size=lambda batch_size: FakeBatch(self))


class FakeWeaviateClient:
    def __init__(self):
        self.created: dict[str, FakeCollection] = {}
        self.collections = SimpleNamespace(exists=self.exists, create=self.create, get=self.created.__getitem__)

    def exists(self, name):
        return name in self.created

    def create(self, name, properties, vector_config, inverted_index_config=None):
        self.created[name] = FakeCollection(name, properties, vector_config)
        self.created[name].inverted_index_config = inverted_index_config


def records(platform: str, ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": [post_id(platform, i) for i in ids],
            "platform": platform,
            "native_id": ids,
            "text": "hello",
            "created_at": pd.Timestamp("2024-01-01", tz="UTC"),
            "likes": 3,
            "entities": [["nike"]] * len(ids),
        }
    )


def test_post_id_is_weaviates_generate_uuid5():
    assert post_id("facebook", "1_2") == generate_uuid5("facebook:1_2")


def test_one_collection_per_platform_named_from_config():
    connection = WeaviateConnection(collections={"tiktok": "ShortVideo"})
    assert connection.collection_for("facebook") == "FacebookPost"
    assert connection.collection_for("customer_care") == "CustomerCarePost"
    assert connection.collection_for("tiktok") == "ShortVideo"


def test_schema_has_self_provided_vectors_and_filterable_platform_and_status():
    client = FakeWeaviateClient()
    store = WeaviatePostStore(WeaviateConnection(), client=client)
    assert isinstance(store, PostStore)
    store.ensure_collection(["facebook"])
    store.ensure_collection(["facebook"])  # idempotent

    collection = client.created["FacebookPost"]
    props = {p.name: p for p in collection.properties}
    assert props["platform"].indexFilterable and props["processing_status"].indexFilterable
    assert props["text"].indexSearchable
    assert collection.inverted_index_config.indexNullState  # coverage() filters on "is set"
    assert "self_provided" in str(collection.vector_config).lower() or "none" in str(collection.vector_config).lower()


def test_upsert_uses_post_id_as_object_id_per_platform_collection():
    client = FakeWeaviateClient()
    store = WeaviatePostStore(WeaviateConnection(), client=client)
    frame = pd.concat([records("facebook", ["1", "2"]), records("tiktok", ["9"])], ignore_index=True)

    assert store.upsert(frame) == 3
    assert store.upsert(frame) == 3  # same ids: replaced, not doubled
    facebook = client.created["FacebookPost"].objects
    assert set(facebook) == {generate_uuid5("facebook:1"), generate_uuid5("facebook:2")}
    properties, vector = facebook[generate_uuid5("facebook:1")]
    assert properties["created_at"].startswith("2024-01-01T00:00:00") and properties["likes"] == 3
    assert vector is None  # no embedding yet
    assert len(client.created["TiktokPost"].objects) == 1


def test_every_failed_object_is_an_error():
    client = FakeWeaviateClient()
    store = WeaviatePostStore(WeaviateConnection(), client=client)
    store.ensure_collection(["facebook"])
    client.created["FacebookPost"].reject = {"2"}

    with pytest.raises(StoreWriteError, match=r"1 of 3 objects failed .*invalid date"):
        store.upsert(records("facebook", ["1", "2", "3"]))


def test_connection_errors_are_retried_with_backoff():
    waits, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise WeaviateConnectionError("refused")
        return "ok"

    assert with_retries(flaky, attempts=4, first_wait=0.5, sleep=waits.append) == "ok"
    assert waits == [0.5, 1.0]
    with pytest.raises(WeaviateConnectionError):
        with_retries(lambda: (_ for _ in ()).throw(WeaviateConnectionError("down")), attempts=2, sleep=waits.append)


def test_api_key_comes_from_the_environment_and_never_shows(monkeypatch):
    monkeypatch.setenv("WEAVIATE_API_KEY", "s3cr3t-key")
    connection = WeaviateConnection(mode="cloud", cluster_url="https://example.invalid")
    assert "s3cr3t" not in repr(connection) and "s3cr3t" not in str(connection.__dict__)


def test_filters_translate_to_weaviate_filters():
    from mlds_assets.store.weaviate_store import weaviate_filter

    assert weaviate_filter(None) is None
    single = weaviate_filter({"platform": "facebook"})
    assert (single.target, single.value) == ("platform", "facebook")
    entity = weaviate_filter({"entity": ["nike", "apple"]})
    assert (entity.target, entity.value, entity.operator.value) == ("entities", ["nike", "apple"], "ContainsAny")
    combined = weaviate_filter({"platform": "facebook", "processing_status": ["a", "b"]})
    assert len(combined.filters) == 2


def test_hybrid_search_sends_our_vector_and_the_query_to_every_platform_collection():
    client = FakeWeaviateClient()
    store = WeaviatePostStore(WeaviateConnection(), client=client, vector_dim=3)
    store.ensure_collection(["facebook", "tiktok"])
    asked = []

    def hybrid(**kwargs):
        asked.append(kwargs)
        hit = SimpleNamespace(properties={"post_id": f"p{len(asked)}"}, metadata=SimpleNamespace(score=len(asked)))
        return SimpleNamespace(objects=[hit])

    for collection in client.created.values():
        collection.query = SimpleNamespace(hybrid=hybrid)

    hits = store.hybrid_search("refund", [0.1, 0.2, 0.3], where={"sentiment_label": "negative"}, limit=5)
    assert [a["query"] for a in asked] == ["refund", "refund"]
    assert all(a["vector"] == [0.1, 0.2, 0.3] and a["alpha"] == 0.5 and a["limit"] == 5 for a in asked)
    assert all(a["filters"].target == "sentiment_label" for a in asked)
    assert hits["post_id"].tolist() == ["p2", "p1"]  # merged across collections by score
    with pytest.raises(ValueError, match="dimensions"):
        store.hybrid_search("refund", [0.1], limit=5)
