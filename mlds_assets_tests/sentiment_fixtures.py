"""Sentiment models and engines built for tests: nothing is downloaded."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd

from mlds_assets.core.sentiment import VaderEngine


def build_tiny_transformer(folder: Path, labels: tuple[str, ...] = ("negative", "neutral", "positive")) -> Path:
    """A 2-layer BERT with random weights and the MiniLM package's tokenizer, saved like any hub model:
    it goes through the real loading code, only its scores mean nothing."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from mlds_assets.core.sentiment import default_embedding_model

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_embedding_model(), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)
    return folder


class KillDuringThirdChunk(VaderEngine):
    """VADER that SIGKILLs its own process when asked for a third chunk: a crash mid-run, with no chance to
    clean up, at a point the test chooses. Same name and version as VADER, so a re-run resumes."""

    calls = 0

    def score(self, texts: list[str]) -> pd.DataFrame:
        type(self).calls += 1
        if type(self).calls == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().score(texts)


class CountingVader(VaderEngine):
    """VADER that counts the texts it scores, across instances in this process."""

    texts_scored = 0

    def score(self, texts: list[str]) -> pd.DataFrame:
        type(self).texts_scored += len(texts)
        return super().score(texts)
