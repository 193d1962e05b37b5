"""One frozen settings object, built once at start-up and passed in; never read at import time."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A setting has a value Haven cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str = ""
    # A volatile shared session store for several workers (persistence must be off); empty: process memory.
    redis_url: str = ""
    workers: int = 1
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
    # Photos sent with a message (attachments/): how many, how large, and how many pixels each may decode to.
    max_files: int = 3
    max_file_bytes: int = 8 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    log_level: str = "WARNING"
    org_name: str = "Haven"
    # Per-process rate limits (security/ratelimit.py); off is for benchmarks only.
    rate_limits: bool = True
    # Key rate limits by X-Forwarded-For: only behind a proxy that sets it (clients could forge it).
    trust_proxy_headers: bool = False
    # Proof of work on anonymous intake (security/pow.py): the base difficulty in bits, and the base wait
    # before a form is accepted without a solution (JavaScript off); both rise under load. Off: tests only.
    pow: bool = True
    pow_bits: int = 16
    pow_wait_seconds: int = 15
    # How often the server purges cases past their retention (retention/): 0 leaves it to `haven purge`.
    purge_interval_minutes: int = 60
    # The Telegram bot (channels/telegram/): off while the token is empty. The webhook secret is the
    # X-Telegram-Bot-Api-Secret-Token Telegram must send; the API URL lets the bot use another Bot API server.
    # Public numbers (stats/public.py): which figures are published, and the rules that keep them safe:
    # counts below the threshold shown as "fewer than", rounding, nothing from the last days, and optional
    # differential privacy ("none", "laplace" or "gaussian") with a budget of epsilon per month. Breakdowns
    # ("type", "channel", or both) publish each figure per request type or channel too; empty: totals only.
    public_figures: str = "contacted,completed"
    public_breakdowns: str = ""
    stats_threshold: int = 10
    stats_rounding: int = 10
    stats_delay_days: int = 14
    stats_noise: str = "none"
    stats_epsilon: float = 0.1
    stats_budget: float = 1.0
    # The organisation's own procedure files (docs/procedures.md), beside and over the shipped ones;
    # empty: `procedures/` in the data dir.
    procedures_dir: str = ""
    telegram_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    # Hours after which the bot deletes every message of a conversation from the requester's phone (Telegram
    # lets a bot delete in a private chat for 48 hours); 0 keeps them.
    telegram_delete_after_hours: int = 24
    # Argon2id cost of the slow hash that finds a chat's case (about 16 ms at 2 / 16 MiB on one core, so
    # 10^10 possible chat ids cost years); tests lower it.
    telegram_hash_opslimit: int = 2
    telegram_hash_memlimit: int = 16 * 1024 * 1024

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

    @property
    def uses_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def check(self) -> Settings:
        """Refuse combinations that cannot work, with a message that says what to do."""
        if self.workers < 1:
            raise SettingsError("--workers must be at least 1")
        if self.workers > 1 and self.uses_sqlite:
            raise SettingsError(
                "SQLite has one writer, so it is served by one process: for --workers, set "
                "HAVEN_DATABASE_URL to a PostgreSQL database (postgresql+psycopg://...)"
            )
        if self.workers > 1 and not self.redis_url:
            raise SettingsError(
                "several workers share operators' sessions through Redis: set HAVEN_REDIS_URL "
                "(redis://127.0.0.1:6379/0, with persistence off)"
            )
        if self.pow and not 8 <= self.pow_bits <= 24:
            raise SettingsError(
                "HAVEN_POW_BITS must be between 8 (a flood barely notices) and 24 (a phone needs minutes); "
                "16 takes a phone a second or two"
            )
        if self.pow and not 1 <= self.pow_wait_seconds <= 120:
            raise SettingsError(
                "HAVEN_POW_WAIT_SECONDS must be between 1 and 120: it is how long a requester without "
                "JavaScript waits before sending, and it grows up to eight times under load"
            )
        if self.purge_interval_minutes < 0:
            raise SettingsError(
                "HAVEN_PURGE_INTERVAL_MINUTES must be 0 (no purge in the server: run `haven purge` "
                "yourself) or a number of minutes"
            )
        if self.telegram_token and len(self.telegram_webhook_secret) < 16:
            raise SettingsError(
                "the Telegram bot needs HAVEN_TELEGRAM_WEBHOOK_SECRET: at least 16 characters of A-Z, a-z, "
                "0-9, _ and -, which Telegram sends with every update so nobody else can post to the webhook"
            )
        if self.telegram_webhook_secret and not _WEBHOOK_SECRET.fullmatch(self.telegram_webhook_secret):
            raise SettingsError(
                "HAVEN_TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (at most 256 characters)"
            )
        if not 0 <= self.telegram_delete_after_hours <= 47:
            raise SettingsError(
                "HAVEN_TELEGRAM_DELETE_AFTER_HOURS must be 0 (keep messages) to 47: Telegram lets a bot "
                "delete messages in a private chat only for 48 hours"
            )
        return self

    @property
    def resolved_procedures_dir(self) -> Path:
        return Path(self.procedures_dir) if self.procedures_dir else self.data_dir / "procedures"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    def as_environment(self) -> dict[str, str]:
        """These settings as `HAVEN_*` variables, so that `from_env` in a child process rebuilds them."""
        environment: dict[str, str] = {}
        for name, kind in _FIELDS.items():
            value = getattr(self, name)
            environment[f"HAVEN_{name.upper()}"] = ("on" if value else "off") if kind is bool else str(value)
        return environment

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
    "redis_url": str,
    "workers": int,
    "host": str,
    "port": int,
    "demo": bool,
    "kdf_opslimit": int,
    "kdf_memlimit": int,
    "session_idle_minutes": int,
    "requester_session_minutes": int,
    "max_body_bytes": int,
    "max_message_chars": int,
    "max_files": int,
    "max_file_bytes": int,
    "max_image_pixels": int,
    "log_level": str,
    "org_name": str,
    "purge_interval_minutes": int,
    "rate_limits": bool,
    "trust_proxy_headers": bool,
    "pow": bool,
    "pow_bits": int,
    "pow_wait_seconds": int,
    "procedures_dir": str,
    "public_figures": str,
    "public_breakdowns": str,
    "stats_threshold": int,
    "stats_rounding": int,
    "stats_delay_days": int,
    "stats_noise": str,
    "stats_epsilon": float,
    "stats_budget": float,
    "telegram_token": str,
    "telegram_webhook_secret": str,
    "telegram_api_url": str,
    "telegram_delete_after_hours": int,
    "telegram_hash_opslimit": int,
    "telegram_hash_memlimit": int,
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
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"HAVEN_{name.upper()} must be a number, not {raw!r}") from None
    if kind is Path:
        return Path(raw)
    return raw
