import pytest

from haven.crypto.receipts import (
    RECEIPT_WORDS,
    entropy_bits,
    new_receipt,
    normalise,
    receipt_keys,
    wordlist,
)


def test_a_receipt_is_seven_words_from_the_list() -> None:
    words = new_receipt().split(" ")
    assert len(words) == RECEIPT_WORDS == 7
    assert set(words) <= set(wordlist())


def test_a_receipt_carries_at_least_80_bits() -> None:
    assert entropy_bits() >= 80


def test_normalise_forgives_case_dashes_and_spaces() -> None:
    receipt = new_receipt()
    typed = "  " + "-".join(w.upper() for w in receipt.split(" ")).replace("-", " - ", 2) + "  "
    assert normalise(typed) == receipt


def test_normalise_forgives_extra_spaces_between_words() -> None:
    receipt = new_receipt()
    assert normalise(receipt.replace(" ", "   ")) == receipt


@pytest.mark.parametrize("count", [6, 8])
def test_normalise_rejects_the_wrong_number_of_words(count: int) -> None:
    assert normalise(" ".join(wordlist()[:count])) is None


def test_normalise_rejects_an_unknown_word() -> None:
    words = new_receipt().split(" ")
    words[3] = "qqqqzzzz"
    assert normalise(" ".join(words)) is None


def test_the_lookup_differs_per_pepper() -> None:
    receipt = new_receipt()
    assert (
        receipt_keys(receipt, pepper=bytes(32)).lookup != receipt_keys(receipt, pepper=bytes([1]) * 32).lookup
    )


def test_the_lookup_and_the_wrapping_key_differ() -> None:
    keys = receipt_keys(new_receipt(), pepper=bytes(32))
    assert keys.lookup != keys.wrapping_key
