"""A tiny random-weights sentiment model, for tests and `make bench`: it goes through the real
transformers loading and pipeline code, only its scores mean nothing. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path


def build_tiny_transformer(folder: Path, labels: tuple[str, ...] = ("negative", "neutral", "positive")) -> Path:
    """A 2-layer BERT with random weights and the MiniLM package's tokenizer, saved like any hub model:
    it goes through the real loading code, only its scores mean nothing."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from mlds_assets.core.embeddings import default_embedding_model

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
