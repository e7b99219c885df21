"""The domain-adaptation learning curve (issue 16, item 5): how many of a team's own labels it takes to adapt
the fine-tuned model to a domain it never saw, through the command a team runs
(`mlds train sentiment --gold mine.csv --method finetune --base MODEL`).

No labelled set here is both unseen by the shipped model and large enough for 1,000 labels (sentiment140_test
has 498 rows), so the measurement holds brand_product_emotion out of the base model's training instead:

1. `base`: the shipped model's recipe (same code, seed and hyperparameters) on tweeteval alone; it never sees
   a brand_product_emotion tweet (sentiment140_test stays held out as before).
2. `mine_N.csv`: N labels drawn (seeded) from brand_product_emotion's *train* part of the recipe's split;
   the samples are nested (100 within 300 within 1,000), as a team labelling more would have.
3. each N: the real CLI continues from `base` on mine_N.csv (which itself keeps 70% to train, 10% to pick the
   epoch and temperature, 20% as its own check), then `mlds eval sentiment` scores the adapted model on
   brand_product_emotion's *test* part of the recipe's split (1,782 tweets), the same rows for every N and
   disjoint from every label drawn in 2 (the split drops duplicate texts first).

    python -m benchmarks.sentiment_curve --data-dir ../shared/data --work /tmp/curve [--sizes 100 300 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlds_assets.core.sentiment_finetune import (
    META_FILE,
    RECIPE_SEED,
    load_brand_product_emotion,
    load_sentiment140_test,
    load_tweeteval,
    train_recipe,
)

SIZES = (100, 300, 1000)


def train_base(data_dir: Path, out: Path) -> Path:
    """The recipe without brand_product_emotion (trained once; reused when `out` already holds it)."""
    if (out / META_FILE).is_file():
        return out
    sets = [load_tweeteval(data_dir / "tweeteval_sentiment"), load_sentiment140_test(data_dir / "sentiment140_test")]
    train_recipe(data_dir, out, sets=sets, log=lambda line: print(line, file=sys.stderr, flush=True))
    return out


def gold_files(data_dir: Path, work: Path, sizes=SIZES, seed: int = RECIPE_SEED) -> tuple[dict[int, Path], Path]:
    """mine_N.csv (nested seeded samples of brand_product_emotion's train part) and its test part as a file."""
    brands = load_brand_product_emotion(data_dir / "brand_product_emotion", seed)
    order = np.random.default_rng(seed).permutation(len(brands.train))
    files = {}
    for n in sizes:
        rows = [brands.train[i] for i in order[:n]]
        files[n] = work / f"mine_{n}.csv"
        pd.DataFrame(rows, columns=["text", "label"]).to_csv(files[n], index=False)
    test = work / "brand_product_emotion_test.csv"
    pd.DataFrame(brands.test, columns=["text", "label"]).to_csv(test, index=False)
    train_texts = {t for t, _ in brands.train}
    assert not train_texts & {t for t, _ in brands.test}, "the evaluation rows must be disjoint from any label"
    return files, test


def mlds(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "mlds_assets.cli", *args], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def evaluate(model: Path, test: Path) -> dict:
    report = json.loads(mlds("eval", "sentiment", "--gold", str(test), "--text-col", "text", "--label-col", "label",
                             "--model", str(model), "--json"))  # fmt: skip
    return {"macro_f1": report["macro_f1"], "accuracy": report["accuracy"], "rows": report["rows"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    base = train_base(args.data_dir, args.work / "base_without_brand_product_emotion")
    files, test = gold_files(args.data_dir, args.work, args.sizes)
    rows = [{"labels": 0, "seconds": 0.0, **evaluate(base, test)}]
    print(json.dumps(rows[-1]), flush=True)
    for n, path in files.items():
        out = args.work / f"adapted_{n}"
        started = time.monotonic()
        mlds("train", "sentiment", "--gold", str(path), "--text-col", "text", "--label-col", "label",
             "--method", "finetune", "--base", str(base), "--out", str(out),
             "--data-dir", str(args.work / "no-recipe-sets"))  # fmt: skip
        rows.append({"labels": n, "seconds": round(time.monotonic() - started, 1), **evaluate(out, test)})
        print(json.dumps(rows[-1]), flush=True)
    (args.work / "curve.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
