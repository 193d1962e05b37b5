import pytest

from haven.crypto.keys import (
    DecryptionError,
    KeyPair,
    lock,
    lock_with_passphrase,
    seal,
    unlock,
    unlock_with_passphrase,
    unseal,
)
from tests.conftest import WEAK_KDF

SECRET = b"a case private key, say"


def test_sealed_secret_opens_with_the_private_key() -> None:
    keys = KeyPair.generate()
    assert unseal(seal(SECRET, keys.public), keys.private) == SECRET


def test_sealed_secret_does_not_open_with_another_private_key() -> None:
    keys, stranger = KeyPair.generate(), KeyPair.generate()
    with pytest.raises(DecryptionError):
        unseal(seal(SECRET, keys.public), stranger.private)


def test_locked_secret_opens_with_the_same_key_and_context() -> None:
    key = bytes(range(32))
    assert unlock(lock(SECRET, key, context=b"here"), key, context=b"here") == SECRET


def test_locked_secret_does_not_open_in_another_context() -> None:
    key = bytes(range(32))
    with pytest.raises(DecryptionError):
        unlock(lock(SECRET, key, context=b"here"), key, context=b"there")


def test_locked_secret_does_not_open_with_another_key() -> None:
    locked = lock(SECRET, bytes(32), context=b"here")
    with pytest.raises(DecryptionError):
        unlock(locked, bytes(range(32)), context=b"here")


def test_passphrase_locked_key_opens_with_the_passphrase() -> None:
    locked = lock_with_passphrase(SECRET, "correct horse battery staple", WEAK_KDF)
    assert unlock_with_passphrase(locked, "correct horse battery staple", WEAK_KDF) == SECRET


def test_passphrase_locked_key_does_not_open_with_a_wrong_passphrase() -> None:
    locked = lock_with_passphrase(SECRET, "correct horse battery staple", WEAK_KDF)
    with pytest.raises(DecryptionError):
        unlock_with_passphrase(locked, "correct horse battery stapler", WEAK_KDF)
