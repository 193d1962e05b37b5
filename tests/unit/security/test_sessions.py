"""Sessions: the cookie's token opens its entry, nothing else does, and idle sessions are forgotten.

Every rule holds for both backends: one process's memory, and a Redis shared by several workers (the
private one `scripts/with-services` starts, with persistence off)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator

import pytest
import redis

from haven.config import SettingsError
from haven.security.session_redis import RedisBackend, refuse_persistence
from haven.security.sessions import MemoryBackend, SessionStore

KEY = b"k" * 32
SHORT_IDLE = 0.3


def redis_client() -> redis.Redis:
    url = os.environ.get("HAVEN_TEST_REDIS_URL")
    if not url:
        pytest.skip("no Redis here: `make test` runs the suite through scripts/with-services")
    return redis.Redis.from_url(url)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[MemoryBackend | RedisBackend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    client = redis_client()
    prefix = f"haven-test-{secrets.token_hex(4)}:"  # each test its own corner of the shared Redis
    yield RedisBackend(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def store(backend: MemoryBackend | RedisBackend) -> SessionStore:
    return SessionStore(bytes(32), backend)


def test_the_right_token_gives_back_the_key(store: SessionStore) -> None:
    token, csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, label="admin:ana")
    session = store.resolve(token, kind="operator")
    assert session is not None
    assert (session.key, session.subject, session.csrf_token, session.label) == (KEY, "7", csrf, "admin:ana")
    assert store.alive(session.id)


def test_a_wrong_token_gives_nothing(store: SessionStore) -> None:
    store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    assert store.resolve("not-the-token", kind="operator") is None
    assert store.resolve("x" * 500, kind="operator") is None
    assert store.resolve(None, kind="operator") is None


def test_a_token_of_another_kind_gives_nothing(store: SessionStore) -> None:
    token, _csrf = store.start(kind="requester", subject="case", key=KEY, idle_seconds=60)
    assert store.resolve(token, kind="operator") is None


def test_an_ended_session_is_forgotten(store: SessionStore) -> None:
    token, _csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    session = store.resolve(token, kind="operator")
    assert session is not None
    store.end(token)
    assert store.resolve(token, kind="operator") is None
    assert not store.alive(session.id)


def test_end_all_forgets_every_session_of_one_subject(store: SessionStore) -> None:
    first, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    second, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    other, _ = store.start(kind="operator", subject="8", key=KEY, idle_seconds=60)
    requester, _ = store.start(kind="requester", subject="7", key=KEY, idle_seconds=60)
    assert store.end_all(kind="operator", subject="7") == 2
    assert store.resolve(first, kind="operator") is None
    assert store.resolve(second, kind="operator") is None
    assert store.resolve(other, kind="operator") is not None
    assert store.resolve(requester, kind="requester") is not None


def test_an_idle_session_expires(store: SessionStore) -> None:
    token, _csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=SHORT_IDLE)
    time.sleep(SHORT_IDLE + 0.2)
    assert store.resolve(token, kind="operator") is None


def test_use_keeps_a_session_alive(store: SessionStore) -> None:
    token, _csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=SHORT_IDLE)
    for _ in range(4):  # in all longer than the idle time, but never idle that long
        time.sleep(SHORT_IDLE / 3)
        assert store.resolve(token, kind="operator") is not None


def test_another_server_secret_opens_nothing(backend: MemoryBackend | RedisBackend) -> None:
    token, _csrf = SessionStore(bytes(32), backend).start(
        kind="operator", subject="7", key=KEY, idle_seconds=60
    )
    assert SessionStore(b"\x01" * 32, backend).resolve(token, kind="operator") is None


def test_an_owner_lists_their_own_sessions_newest_activity_first(store: SessionStore) -> None:
    laptop, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, device="Firefox on Linux")
    time.sleep(0.05)
    phone, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, device="Chrome on Android")
    store.start(kind="operator", subject="8", key=b"o" * 32, idle_seconds=60, device="Safari on macOS")
    listed = store.list(kind="operator", subject="7", key=KEY)
    assert [s.device for s in listed] == ["Chrome on Android", "Firefox on Linux"]
    resolved = store.resolve(phone, kind="operator")
    assert resolved is not None
    assert listed[0].id == resolved.id
    assert listed[0].started_at.second == 0  # kept to the minute, like every stored time
    assert store.resolve(laptop, kind="operator") is not None


def test_descriptions_open_only_with_the_owners_key(store: SessionStore) -> None:
    store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, device="Firefox on Linux")
    assert store.list(kind="operator", subject="7", key=b"x" * 32) == []


def test_an_owner_ends_one_of_their_sessions(store: SessionStore) -> None:
    laptop, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, device="laptop")
    phone, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, device="phone")
    lost = store.resolve(phone, kind="operator")
    assert lost is not None
    assert store.end_one(kind="operator", subject="7", session_id=lost.id)
    assert store.resolve(phone, kind="operator") is None
    assert store.resolve(laptop, kind="operator") is not None
    assert [s.device for s in store.list(kind="operator", subject="7", key=KEY)] == ["laptop"]
    assert not store.end_one(kind="operator", subject="7", session_id=lost.id)  # already over


def test_nobody_ends_a_session_of_another_owner(store: SessionStore) -> None:
    theirs, _ = store.start(kind="operator", subject="8", key=KEY, idle_seconds=60)
    session = store.resolve(theirs, kind="operator")
    assert session is not None
    assert not store.end_one(kind="operator", subject="7", session_id=session.id)
    assert not store.end_one(kind="operator", subject="7", session_id="not hex")
    assert store.resolve(theirs, kind="operator") is not None


def test_an_expired_session_leaves_the_list(store: SessionStore) -> None:
    store.start(kind="operator", subject="7", key=KEY, idle_seconds=SHORT_IDLE, device="gone")
    store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, device="here")
    time.sleep(SHORT_IDLE + 0.2)
    assert [s.device for s in store.list(kind="operator", subject="7", key=KEY)] == ["here"]


def test_memory_holds_only_sealed_blobs() -> None:
    backend = MemoryBackend()
    store = SessionStore(bytes(32), backend)
    token, csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, label="admin:ana")
    for blob in backend.blobs():
        for secret in (KEY, KEY.hex().encode(), csrf.encode(), token.encode(), b"admin:ana"):
            assert secret not in blob


def test_redis_holds_only_sealed_blobs_under_keyed_names() -> None:
    client = redis_client()
    prefix = f"haven-test-{secrets.token_hex(4)}:"
    store = SessionStore(bytes(32), RedisBackend(client, prefix=prefix))
    token, csrf = store.start(
        kind="operator", subject="7", key=KEY, idle_seconds=60, label="admin:ana", device="Firefox on Linux"
    )
    keys = list(client.scan_iter(f"{prefix}*"))
    assert len(keys) == 2  # the session, and the group that lets an admin end all of an operator's
    stored = b"".join(
        key
        + b"".join(
            [k + v for k, v in client.hgetall(key).items()]
            if client.type(key) == b"hash"
            else [client.get(key) or b""]
        )
        for key in keys
    )
    for secret in (KEY, KEY.hex().encode(), csrf.encode(), token.encode(), b"admin:ana", b"Firefox"):
        assert secret not in stored
    for key in keys:
        client.delete(key)


def test_a_redis_that_writes_to_disk_is_refused() -> None:
    client = redis_client()
    saved = client.config_get("save")["save"]
    client.config_set("save", "3600 1")
    try:
        with pytest.raises(SettingsError, match="persistence off"):
            refuse_persistence(client)
    finally:
        client.config_set("save", saved)
    refuse_persistence(client)  # the test Redis itself runs with persistence off
