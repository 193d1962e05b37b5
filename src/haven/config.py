"""One frozen settings object, built once at start-up and passed in; never read at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A setting has a value Haven cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False
    # Argon2id cost for operator passphrases (libsodium's "moderate" ops, 128 MiB by default).
    kdf_opslimit: int = 3
    kdf_memlimit: int = 128 * 1024 * 1024
    session_idle_minutes: int = 30
    requester_session_minutes: int = 20
    max_body_bytes: int = 64 * 1024
    max_message_chars: int = 10_000
    log_level: str = "WARNING"
    org_name: str = "Haven"

    @property
    def secure_cookies(self) -> bool:
        # Demo runs on plain http://127.0.0.1; everything else sits behind TLS or an onion service.
        return not self.demo

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'haven.db'}"

    @property
    def server_key_path(self) -> Path:
        return self.data_dir / "server.key"

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `HAVEN_*` variables; keyword overrides (from the command line) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, kind in _FIELDS.items():
            raw = env.get(f"HAVEN_{name.upper()}")
            if raw is not None and raw != "":
                values[name] = _parse(name, kind, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" not in values:
            values["data_dir"] = Path("data")
        values["data_dir"] = Path(values["data_dir"]).resolve()
        return cls(**values)


_FIELDS: dict[str, type] = {
    "data_dir": Path,
    "database_url": str,
    "host": str,
    "port": int,
    "demo": bool,
    "kdf_opslimit": int,
    "kdf_memlimit": int,
    "session_idle_minutes": int,
    "requester_session_minutes": int,
    "max_body_bytes": int,
    "max_message_chars": int,
    "log_level": str,
    "org_name": str,
}


def _parse(name: str, kind: type, raw: str) -> Any:
    if kind is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise SettingsError(f"HAVEN_{name.upper()} must be on or off, not {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"HAVEN_{name.upper()} must be a whole number, not {raw!r}") from None
    if kind is Path:
        return Path(raw)
    return raw
