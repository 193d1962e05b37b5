"""What the store knows a chat by: a slow keyed hash of its chat id, split into a lookup and a key."""

from __future__ import annotations

import secrets

from haven.channels.telegram.chat_keys import ChatKeyCache, derive
from tests.conftest import WEAK_KDF

PEPPER = bytes(range(32))
CHAT = 987654321987


def test_two_chats_have_different_lookups_and_keys() -> None:
    one, other = (
        derive(CHAT, pepper=PEPPER, params=WEAK_KDF),
        derive(CHAT + 1, pepper=PEPPER, params=WEAK_KDF),
    )
    assert one.lookup != other.lookup
    assert one.key != other.key


def test_the_same_chat_always_has_the_same_lookup_and_key() -> None:
    assert derive(CHAT, pepper=PEPPER, params=WEAK_KDF) == derive(CHAT, pepper=PEPPER, params=WEAK_KDF)


def test_the_lookup_depends_on_the_server_pepper() -> None:
    other_pepper = secrets.token_bytes(32)
    here, elsewhere = (
        derive(CHAT, pepper=PEPPER, params=WEAK_KDF),
        derive(CHAT, pepper=other_pepper, params=WEAK_KDF),
    )
    assert here.lookup != elsewhere.lookup
    assert here.key != elsewhere.key


def test_the_lookup_depends_on_the_hash_cost() -> None:
    from haven.crypto.kdf import KdfParams

    stronger = KdfParams(opslimit=WEAK_KDF.opslimit + 1, memlimit=WEAK_KDF.memlimit)
    assert (
        derive(CHAT, pepper=PEPPER, params=WEAK_KDF).lookup
        != derive(CHAT, pepper=PEPPER, params=stronger).lookup
    )


def test_the_key_is_never_the_lookup() -> None:
    keys = derive(CHAT, pepper=PEPPER, params=WEAK_KDF)
    assert keys.key != keys.lookup
    assert len(keys.lookup) == len(keys.key) == 32


def test_neither_half_holds_the_chat_id() -> None:
    keys = derive(CHAT, pepper=PEPPER, params=WEAK_KDF)
    for form in (str(CHAT).encode(), CHAT.to_bytes(8, "big"), CHAT.to_bytes(8, "little")):
        assert form not in keys.lookup + keys.key


def test_a_negative_chat_id_has_keys_of_its_own() -> None:
    assert (
        derive(-CHAT, pepper=PEPPER, params=WEAK_KDF).lookup
        != derive(CHAT, pepper=PEPPER, params=WEAK_KDF).lookup
    )


def test_the_cache_gives_the_same_keys_as_the_hash() -> None:
    cache = ChatKeyCache(pepper=PEPPER, params=WEAK_KDF)
    assert cache.of(CHAT) == derive(CHAT, pepper=PEPPER, params=WEAK_KDF)
    assert cache.of(CHAT) is cache.of(CHAT)


def test_the_cache_forgets_the_chat_seen_longest_ago() -> None:
    cache = ChatKeyCache(pepper=PEPPER, params=WEAK_KDF, size=2)
    first = cache.of(1)
    cache.of(2)
    cache.of(1)  # seen again: now 2 is the oldest
    cache.of(3)
    assert cache.of(1) is first
    assert cache.of(2) == derive(2, pepper=PEPPER, params=WEAK_KDF)


def test_a_cleared_cache_derives_the_same_keys_again() -> None:
    cache = ChatKeyCache(pepper=PEPPER, params=WEAK_KDF)
    before = cache.of(CHAT)
    cache.clear()
    again = cache.of(CHAT)
    assert again == before
    assert again is not before
