import pytest

from haven.crypto.envelope import PAD_BLOCK, SealedRecord, open_record, seal_record
from haven.crypto.keys import DecryptionError, KeyPair

CASE = "case-one"


@pytest.fixture
def case_keys() -> KeyPair:
    return KeyPair.generate()


def _seal(text: bytes, keys: KeyPair, *, case_id: str = CASE, record_id: str = "rec-1") -> SealedRecord:
    return seal_record(text, case_public_key=keys.public, case_id=case_id, record_id=record_id)


def test_record_opens_with_the_case_key(case_keys: KeyPair) -> None:
    sealed = _seal("Привет".encode(), case_keys)
    opened = open_record(sealed, case_private_key=case_keys.private, case_id=CASE, record_id="rec-1")
    assert opened.decode() == "Привет"


def test_record_does_not_open_with_another_case_key(case_keys: KeyPair) -> None:
    sealed = _seal(b"hello", case_keys)
    with pytest.raises(DecryptionError):
        open_record(sealed, case_private_key=KeyPair.generate().private, case_id=CASE, record_id="rec-1")


def test_record_moved_to_another_record_id_does_not_open(case_keys: KeyPair) -> None:
    sealed = _seal(b"hello", case_keys)
    with pytest.raises(DecryptionError):
        open_record(sealed, case_private_key=case_keys.private, case_id=CASE, record_id="rec-2")


def test_record_moved_to_another_case_id_does_not_open(case_keys: KeyPair) -> None:
    sealed = _seal(b"hello", case_keys)
    with pytest.raises(DecryptionError):
        open_record(sealed, case_private_key=case_keys.private, case_id="case-two", record_id="rec-1")


def test_ciphertexts_swapped_between_records_do_not_open(case_keys: KeyPair) -> None:
    first = _seal(b"first", case_keys, record_id="rec-1")
    second = _seal(b"second", case_keys, record_id="rec-2")
    swapped = SealedRecord(sealed_key=first.sealed_key, ciphertext=second.ciphertext)
    with pytest.raises(DecryptionError):
        open_record(swapped, case_private_key=case_keys.private, case_id=CASE, record_id="rec-1")


def test_whole_records_swapped_between_ids_do_not_open(case_keys: KeyPair) -> None:
    second = _seal(b"second", case_keys, record_id="rec-2")
    with pytest.raises(DecryptionError):
        open_record(second, case_private_key=case_keys.private, case_id=CASE, record_id="rec-1")


def test_a_flipped_byte_is_detected(case_keys: KeyPair) -> None:
    sealed = _seal(b"hello", case_keys)
    altered = bytearray(sealed.ciphertext)
    altered[-20] ^= 0x01
    with pytest.raises(DecryptionError):
        open_record(
            SealedRecord(sealed.sealed_key, bytes(altered)),
            case_private_key=case_keys.private,
            case_id=CASE,
            record_id="rec-1",
        )


def test_padding_hides_the_length_of_short_messages(case_keys: KeyPair) -> None:
    short = _seal(b"x", case_keys)
    longer = _seal(b"y" * 200, case_keys)
    assert len(short.ciphertext) == len(longer.ciphertext)


def test_padding_grows_in_whole_blocks(case_keys: KeyPair) -> None:
    one_block = _seal(b"x", case_keys)
    two_blocks = _seal(b"y" * PAD_BLOCK, case_keys)
    assert len(two_blocks.ciphertext) - len(one_block.ciphertext) == PAD_BLOCK
