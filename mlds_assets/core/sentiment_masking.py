"""What every sentiment engine scores, in training and in production: the texts masked so that @handles,
URLs and the entity dictionary's brand names carry no sentiment of their own (TweetEval masks users as
`@user`). Its own module so that the engines and the fine-tuning code share it without importing each other."""

from __future__ import annotations

import hashlib
import html
import re

LABELS = ("negative", "neutral", "positive")

_HANDLE = re.compile(r"(?<![\w@])@\w+")
_URL = re.compile(r"(?:https?://|www\.)\S+|\{link\}", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def alias_pattern(aliases) -> re.Pattern | None:
    """One case-insensitive pattern for entity aliases, longest first, on word boundaries."""
    words = sorted({a.strip().lower() for a in aliases if a and a.strip()}, key=len, reverse=True)
    if not words:
        return None
    first = "".join(sorted({re.escape(w[0]) for w in words}))  # a cheap first-character test at each position
    alternatives = "|".join(map(re.escape, words))
    return re.compile(r"(?<![\w@#])#?(?=[" + first + r"])(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


def mask_text(text: str, aliases: re.Pattern | None = None) -> str:
    """What every engine scores, and what the fine-tuned model was trained on: HTML entities decoded,
    @handles -> `@user` and URLs -> `http` (as TweetEval), entity aliases -> `@user` (a brand's name carries
    no sentiment of its own), whitespace collapsed."""
    text = text or ""
    if "&" in text:
        text = html.unescape(text)
    if "/" in text or "www." in text or "{link}" in text:
        text = _URL.sub("http", text)
    if "@" in text:
        text = _HANDLE.sub("@user", text)
    if aliases is not None:
        text = aliases.sub("@user", text)
    return _SPACES.sub(" ", text).strip()


class Masker:
    """`mask_text` with a fixed alias list; `digest` names the list, so a version can record it."""

    def __init__(self, aliases=()) -> None:
        self.aliases = sorted({a.strip().lower() for a in aliases if a and a.strip()})
        self._pattern = alias_pattern(self.aliases)
        self.digest = hashlib.sha1("\n".join(self.aliases).encode()).hexdigest()[:8]
        self._finder = None
        if self.aliases:  # one Aho-Corasick pass finds whether any alias occurs as a substring at all
            import ahocorasick

            self._finder = ahocorasick.Automaton()
            for alias in self.aliases:
                self._finder.add_word(alias, alias)
            self._finder.make_automaton()

    def __call__(self, texts: list[str]) -> list[str]:
        if self._pattern is None:
            return [mask_text(t) for t in texts]
        pattern, finder = self._pattern, self._finder  # the word-boundary regex only where an alias occurs
        return [mask_text(t, pattern if next(finder.iter((t or "").lower()), None) else None) for t in texts]
