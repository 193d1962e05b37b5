"""The public pages' languages and their message catalogues (locale/<lang>.json, flat keys)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LANGUAGES = ("ru", "uk", "en")
NATIVE_NAMES = {"ru": "Русский", "uk": "Українська", "en": "English"}
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).with_name("locale")


@cache
def catalogue(language: str) -> Mapping[str, str]:
    data: dict[str, str] = json.loads((LOCALE_DIR / f"{language}.json").read_text(encoding="utf-8"))
    return data


class Translator:
    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self._messages = catalogue(self.language)

    def __call__(self, key: str, **values: object) -> str:
        # A missing key shows the English text, and failing that the key itself: never an error page.
        text = self._messages.get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
        return text.format(**values) if values else text


def from_accept_language(header: str | None) -> str:
    """The first of our languages the browser asks for, else the default."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
