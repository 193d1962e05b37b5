"""The receipt normaliser against anything a requester (or an attacker) might type."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from haven.crypto.receipts import RECEIPT_WORDS, normalise, wordlist

BUDGET = settings(max_examples=300, deadline=timedelta(milliseconds=200))

receipt_words = st.lists(st.sampled_from(wordlist()), min_size=RECEIPT_WORDS, max_size=RECEIPT_WORDS)
separators = st.text(alphabet=" -_.,;:/\t\n0123456789", min_size=1, max_size=3)


@BUDGET
@given(st.text(max_size=500))
def test_any_text_is_either_a_canonical_receipt_or_none(text: str) -> None:
    found = normalise(text)
    if found is not None:
        words = found.split(" ")
        assert len(words) == RECEIPT_WORDS
        assert set(words) <= set(wordlist())
        assert found.isascii()


@BUDGET
@given(st.text(max_size=500))
def test_normalising_twice_changes_nothing(text: str) -> None:
    found = normalise(text)
    assert found is None or normalise(found) == found


@BUDGET
@given(receipt_words, st.lists(separators, min_size=RECEIPT_WORDS + 1, max_size=RECEIPT_WORDS + 1), st.data())
def test_any_spacing_case_and_punctuation_of_a_receipt_is_forgiven(
    words: list[str], gaps: list[str], data: st.DataObject
) -> None:
    upper = data.draw(st.lists(st.booleans(), min_size=RECEIPT_WORDS, max_size=RECEIPT_WORDS))
    typed = gaps[0] + "".join(
        (w.upper() if up else w) + gap for w, up, gap in zip(words, upper, gaps[1:], strict=True)
    )
    assert normalise(typed) == " ".join(words)


@BUDGET
@given(receipt_words, st.integers(min_value=0, max_value=RECEIPT_WORDS - 1), st.text(min_size=1, max_size=12))
def test_a_receipt_with_one_word_off_the_list_is_none(words: list[str], at: int, other: str) -> None:
    word = "".join(c for c in other.lower() if "a" <= c <= "z")
    if not word or word in wordlist():
        word = "qqqzzz"
    words[at] = word
    assert normalise(" ".join(words)) is None
