import time

import pytest

from haven.security.sessions import SessionStore

KEY = b"k" * 32


@pytest.fixture
def store() -> SessionStore:
    return SessionStore(bytes(32))


def test_the_right_token_gives_back_the_key(store: SessionStore) -> None:
    token, csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60, label="admin:ana")
    session = store.resolve(token, kind="operator")
    assert session is not None
    assert (session.key, session.subject, session.csrf_token, session.label) == (KEY, "7", csrf, "admin:ana")


def test_a_wrong_token_gives_nothing(store: SessionStore) -> None:
    store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    assert store.resolve("not-the-token", kind="operator") is None


def test_a_token_of_another_kind_gives_nothing(store: SessionStore) -> None:
    token, _csrf = store.start(kind="requester", subject="case", key=KEY, idle_seconds=60)
    assert store.resolve(token, kind="operator") is None


def test_an_ended_session_is_forgotten(store: SessionStore) -> None:
    token, _csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    store.end(token)
    assert store.resolve(token, kind="operator") is None
    assert len(store) == 0


def test_end_all_forgets_every_session_of_one_subject(store: SessionStore) -> None:
    first, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    second, _ = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    other, _ = store.start(kind="operator", subject="8", key=KEY, idle_seconds=60)
    assert store.end_all(kind="operator", subject="7") == 2
    assert store.resolve(first, kind="operator") is None
    assert store.resolve(second, kind="operator") is None
    assert store.resolve(other, kind="operator") is not None


def test_an_idle_session_expires(store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    token, _csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    monkeypatch.setattr(time, "monotonic", lambda: started + 61)
    assert store.resolve(token, kind="operator") is None


def test_use_keeps_a_session_alive(store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    token, _csrf = store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    monkeypatch.setattr(time, "monotonic", lambda: started + 50)
    assert store.resolve(token, kind="operator") is not None
    monkeypatch.setattr(time, "monotonic", lambda: started + 100)
    assert store.resolve(token, kind="operator") is not None


def test_the_store_alone_holds_no_plain_key(store: SessionStore) -> None:
    store.start(kind="operator", subject="7", key=KEY, idle_seconds=60)
    assert all(KEY not in entry.locked_key for entry in store._entries.values())
