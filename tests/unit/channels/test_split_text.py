"""How a reply longer than a channel's longest message is cut into parts (channels/outbox.py split_text)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from haven.channels.outbox import split_text

# A word: anything without whitespace (str.split's idea of it, which is also what strip() removes).
WORD_CHARS = st.characters(codec="utf-8").filter(lambda c: not c.isspace())
SEPARATORS = st.sampled_from([" ", "\n", "\n\n", "  ", " \n"])
MAX_CHARS = st.integers(min_value=1, max_value=40)


def _text_of(words: list[str], separators: list[str]) -> str:
    text = words[0]
    for separator, word in zip(separators, words[1:], strict=True):
        text += separator + word
    return text


@st.composite
def words_that_fit(draw: st.DrawFn) -> tuple[str, list[str], int]:
    """A text of words separated by spaces, line and paragraph ends, each word no longer than a part."""
    max_chars = draw(MAX_CHARS)
    word = st.text(WORD_CHARS, min_size=1, max_size=max_chars)
    words = draw(st.lists(word, min_size=1, max_size=60))
    separators = draw(st.lists(SEPARATORS, min_size=len(words) - 1, max_size=len(words) - 1))
    return _text_of(words, separators), words, max_chars


@given(text=st.text(max_size=2000), max_chars=MAX_CHARS)
def test_every_part_is_at_most_max_chars_and_not_empty(text: str, max_chars: int) -> None:
    for part in split_text(text, max_chars):
        assert 0 < len(part) <= max_chars
        assert part.strip() == part


@given(text=st.text(max_size=2000), max_chars=MAX_CHARS)
def test_no_character_is_lost_duplicated_or_reordered(text: str, max_chars: int) -> None:
    parts = split_text(text, max_chars)
    assert "".join("".join(parts).split()) == "".join(text.split())


@example(case=("aaaa bbbbbbbbb", ["aaaa", "bbbbbbbbb"], 10), joiner=" ")
@given(case=words_that_fit(), joiner=st.sampled_from([" ", "\n"]))
def test_words_that_fit_in_a_part_come_back_whole_and_in_order(
    case: tuple[str, list[str], int], joiner: str
) -> None:
    text, words, max_chars = case
    assert joiner.join(split_text(text, max_chars)).split() == words


@given(word=st.text(WORD_CHARS, min_size=2, max_size=1000), data=st.data())
def test_a_word_longer_than_a_part_is_cut_into_full_parts(word: str, data: st.DataObject) -> None:
    max_chars = data.draw(st.integers(min_value=1, max_value=len(word) - 1))
    parts = split_text(word, max_chars)
    assert parts == [word[i : i + max_chars] for i in range(0, len(word), max_chars)]


@given(text=st.text(min_size=1, max_size=300).filter(str.strip), data=st.data())
def test_a_text_that_fits_in_a_part_is_one_part(text: str, data: st.DataObject) -> None:
    max_chars = data.draw(st.integers(min_value=len(text.strip()), max_value=len(text.strip()) + 50))
    assert split_text(text, max_chars) == [text.strip()]


@given(text=st.text(st.sampled_from(" \n\t\r\xa0\u2028")), max_chars=MAX_CHARS)
def test_a_blank_text_has_no_parts(text: str, max_chars: int) -> None:
    assert split_text(text, max_chars) == []


@example(first=["aaaaaaaaaaaa"], second=["bbb", "cc", "dd"], slack=7)
@given(
    first=st.lists(st.text(WORD_CHARS, min_size=1, max_size=8), min_size=1, max_size=20),
    second=st.lists(st.text(WORD_CHARS, min_size=1, max_size=8), min_size=2, max_size=40),
    slack=st.integers(min_value=0, max_value=500),
)
def test_a_part_ends_at_a_paragraph_end_in_its_second_half(
    first: list[str], second: list[str], slack: int
) -> None:
    paragraph = " ".join(first)
    # The paragraph end lies in the second half of the first part, and words follow it inside that part.
    max_chars = len(paragraph) + 1 + slack % len(paragraph)
    text = paragraph + "\n\n" + " ".join(second) + " " + "x" * max_chars
    assert split_text(text, max_chars)[0] == paragraph
