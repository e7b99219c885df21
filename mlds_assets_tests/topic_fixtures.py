"""A small corpus with three clear themes and their real MiniLM vectors, built once per test session:
BERTopic's first fit in a process pays ~20 s of numba compilation, so the tests share fits."""

from __future__ import annotations

import numpy as np
import pandas as pd

THEMES = {
    "flights": (
        ["my flight", "the plane", "our boarding", "the airline", "the gate agent", "my connecting flight"],
        ["was delayed three hours", "got cancelled again", "lost my luggage", "changed the departure gate",
         "overbooked the cabin", "left the runway late"],
    ),
    "coffee": (
        ["this latte", "the espresso", "my cold brew", "the barista", "the coffee shop", "this cappuccino"],
        ["tastes amazing today", "had perfect foam", "was roasted just right", "smells like heaven",
         "is the best in town", "made my morning"],
    ),
    "phones": (
        ["my phone battery", "the new smartphone", "the charger", "my screen", "the phone update",
         "the camera app"],
        ["dies before noon", "cracked after one drop", "stopped charging overnight", "drains the battery",
         "keeps freezing", "overheats while charging"],
    ),
}  # fmt: skip


def themed_posts(per_theme: int = 40, seed: int = 0, prefix: str = "p") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for theme, (subjects, predicates) in THEMES.items():
        for i in range(per_theme):
            text = f"{rng.choice(subjects).capitalize()} {rng.choice(predicates)}"
            rows.append({"post_id": f"{prefix}-{theme}-{i}", "platform": "facebook", "text": text, "theme": theme})
    return pd.DataFrame(rows)


def vectors_for(posts: pd.DataFrame, encoder) -> np.ndarray:
    from mlds_assets.core.embeddings import embed

    return embed(encoder, posts["text"].tolist())
