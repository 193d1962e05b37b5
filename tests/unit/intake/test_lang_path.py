"""The `{lang:lang}` path convertor: only our languages match; anything else is a plain 404."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import compile_path

from haven.i18n import LANGUAGES, from_accept_language
from haven.intake import lang_path

BUDGET = settings(max_examples=300, deadline=timedelta(milliseconds=200))

lang_path.register()
PATH, _FORMAT, CONVERTORS = compile_path("/{lang:lang}/thread")
segments = (
    st.sampled_from(LANGUAGES) | st.text(max_size=12) | st.sampled_from(["EN", "en ", "enx", "e", "ru|uk"])
)


@BUDGET
@given(segments)
def test_a_path_matches_only_with_one_of_our_languages(segment: str) -> None:
    found = PATH.match(f"/{segment}/thread")
    assert (found is not None) == (segment in LANGUAGES)
    if found is not None:
        assert CONVERTORS["lang"].convert(found["lang"]) == segment


@BUDGET
@given(st.sampled_from(LANGUAGES))
def test_a_language_turns_back_into_the_same_segment(language: str) -> None:
    convertor = CONVERTORS["lang"]
    assert convertor.to_string(convertor.convert(language)) == language


@BUDGET
@given(st.text(max_size=200) | st.none())
def test_any_accept_language_header_gives_one_of_our_languages(header: str | None) -> None:
    assert from_accept_language(header) in LANGUAGES
