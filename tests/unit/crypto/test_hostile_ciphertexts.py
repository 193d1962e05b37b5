"""The decrypt path fed arbitrary bytes (a damaged or forged store, a hostile backup): it refuses with
DecryptionError, never with another exception."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.crypto.envelope import SealedRecord, open_record, seal_record
from haven.crypto.kdf import KdfParams
from haven.crypto.keys import DecryptionError, KeyPair, unlock, unlock_with_passphrase, unseal

BUDGET = settings(max_examples=200, deadline=timedelta(milliseconds=500))
WEAK = KdfParams(opslimit=1, memlimit=8192)  # the weakest Argon2id: tests only

KEYS = KeyPair.generate()
blobs = st.binary(max_size=400)
keys = st.one_of(st.just(KEYS.private), st.binary(min_size=32, max_size=32), st.binary(max_size=64))
ids = st.text(max_size=40)


@BUDGET
@given(sealed=blobs, private_key=keys)
def test_unseal_refuses_any_bytes(sealed: bytes, private_key: bytes) -> None:
    with pytest.raises(DecryptionError):
        unseal(sealed, private_key)


@BUDGET
@given(locked=blobs, key=keys, context=st.binary(max_size=40))
def test_unlock_refuses_any_bytes(locked: bytes, key: bytes, context: bytes) -> None:
    with pytest.raises(DecryptionError):
        unlock(locked, key, context=context)


@BUDGET
@given(sealed_key=blobs, ciphertext=blobs, private_key=keys, case_id=ids, record_id=ids)
def test_open_record_refuses_any_bytes(
    sealed_key: bytes, ciphertext: bytes, private_key: bytes, case_id: str, record_id: str
) -> None:
    with pytest.raises(DecryptionError):
        open_record(
            SealedRecord(sealed_key, ciphertext),
            case_private_key=private_key,
            case_id=case_id,
            record_id=record_id,
        )


@BUDGET
@given(ciphertext=blobs, case_id=ids, record_id=ids)
def test_a_real_record_key_with_a_forged_ciphertext_is_refused(
    ciphertext: bytes, case_id: str, record_id: str
) -> None:
    real = seal_record(b"hello", case_public_key=KEYS.public, case_id=case_id, record_id=record_id)
    with pytest.raises(DecryptionError):
        open_record(
            SealedRecord(real.sealed_key, ciphertext),
            case_private_key=KEYS.private,
            case_id=case_id,
            record_id=record_id,
        )


@BUDGET
@given(locked=blobs, passphrase=st.text(max_size=40))
def test_unlock_with_passphrase_refuses_any_bytes(locked: bytes, passphrase: str) -> None:
    with pytest.raises(DecryptionError):
        unlock_with_passphrase(locked, passphrase, WEAK)
