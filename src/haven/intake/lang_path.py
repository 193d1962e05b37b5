"""A URL path segment that is one of the public pages' languages, so /xx/ is a plain 404."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from haven.i18n import LANGUAGES


class LanguageConvertor(Convertor[str]):
    regex = "|".join(LANGUAGES)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def register() -> None:
    """Make `{lang:lang}` usable in route paths (Starlette keeps convertors in one global table)."""
    register_url_convertor("lang", LanguageConvertor())
