"""Sentiment models and engines built for tests: nothing is downloaded."""

from __future__ import annotations

import os
import signal

import pandas as pd

from mlds_assets.core.sentiment import VaderEngine


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
