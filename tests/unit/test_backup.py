import secrets

import pytest

from haven.backup import BackupError, libpq_connection
from haven.bootstrap import format_recovery_key
from haven.restore import parse_recovery_key


def test_a_recovery_key_is_read_as_printed_or_typed_loosely() -> None:
    key = secrets.token_bytes(32)
    printed = format_recovery_key(key)
    assert parse_recovery_key(printed) == key
    assert parse_recovery_key(f"  {printed.lower().replace('-', ' ')}\n") == key


@pytest.mark.parametrize("typed", ["", "not a key", "ABCD-EFGH", "1" * 52])
def test_anything_else_is_not_a_recovery_key(typed: str) -> None:
    with pytest.raises(BackupError, match="not a recovery key"):
        parse_recovery_key(typed)


def test_the_database_password_goes_to_the_environment_never_the_command_line() -> None:
    conninfo, environment = libpq_connection(
        "postgresql+psycopg://haven:s3cret@db.internal:5433/haven?sslmode=require"
    )
    assert conninfo == "postgresql://haven@db.internal:5433/haven?sslmode=require"
    assert environment["PGPASSWORD"] == "s3cret"
