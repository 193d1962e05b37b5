from datetime import UTC, datetime

import pytest

from haven.accounts import totp
from haven.accounts.services import LoginFailed, authenticate
from haven.runtime import Runtime
from tests.conftest import WEAK_KDF, Org

NOW = datetime(2026, 1, 5, 12, 0, 10, tzinfo=UTC)


def test_the_current_code_is_accepted() -> None:
    secret = totp.new_secret()
    assert totp.matching_step(secret, totp.current_code(secret, NOW), last_step=0, now=NOW) is not None


def test_a_code_is_accepted_once() -> None:
    secret = totp.new_secret()
    code = totp.current_code(secret, NOW)
    step = totp.matching_step(secret, code, last_step=0, now=NOW)
    assert step is not None
    assert totp.matching_step(secret, code, last_step=step, now=NOW) is None


def test_a_wrong_code_is_refused() -> None:
    secret = totp.new_secret()
    right = totp.current_code(secret, NOW)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert totp.matching_step(secret, wrong, last_step=0, now=NOW) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef"])
def test_a_malformed_code_is_refused(code: str) -> None:
    assert totp.matching_step(totp.new_secret(), code, last_step=0, now=NOW) is None


def test_a_replayed_code_does_not_log_in_twice(runtime: Runtime, org: Org) -> None:
    code = org.intake.code()
    credentials = {
        "username": org.intake.username,
        "passphrase": org.intake.passphrase,
        "totp_key": runtime.secrets.totp_key,
        "kdf": WEAK_KDF,
    }
    assert authenticate(db=runtime.db, code=code, **credentials).id == org.intake.id
    with pytest.raises(LoginFailed):
        authenticate(db=runtime.db, code=code, **credentials)
