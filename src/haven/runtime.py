"""What a running Haven holds: settings, the store, server secrets, sessions, search indexes, templates."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from fastapi.templating import Jinja2Templates

from haven.accounts.lockout import UnknownNames
from haven.attachments.forms import FileLimits
from haven.cases.rewrap import Rewrapper
from haven.cases.search import SearchIndexes
from haven.config import Settings
from haven.crypto.kdf import KdfParams
from haven.crypto.server_secret import ServerSecrets, load_or_create
from haven.db import Database, GroupCommit
from haven.i18n import LANGUAGES, NATIVE_NAMES
from haven.intake.questionnaires import Catalogue, default_catalogue
from haven.intake.services import ReceivingTeam
from haven.security.pow import MemorySpentTokens, ProofOfWork, SpentTokens
from haven.security.ratelimit import RateLimiter
from haven.security.sessions import MemoryBackend, SessionBackend, SessionStore

TEMPLATES_DIR = Path(__file__).with_name("templates")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: ServerSecrets
    sessions: SessionStore
    catalogue: Catalogue
    templates: Jinja2Templates
    # Decrypted case texts, in memory only, held while a session that searched them is open.
    search: SearchIndexes
    # Intake's writes, many requests to one commit (started and stopped with the app).
    writer: GroupCommit
    # The team new requests are sealed to, re-read every few seconds rather than on every request.
    receiving: ReceivingTeam
    # Rate limits and the lockouts of usernames that do not exist: this process's memory only.
    limits: RateLimiter
    unknown_names: UnknownNames
    # Re-wraps case keys to a team's new key after a revocation, while a member is logged in.
    rewrap: Rewrapper
    # Proof-of-work challenges on intake; spent tokens in memory, or in Redis when workers share it.
    pow: ProofOfWork

    @property
    def kdf(self) -> KdfParams:
        return KdfParams(self.settings.kdf_opslimit, self.settings.kdf_memlimit)

    def forget_cases(self, case_ids: Collection[str]) -> None:
        """Cases were shredded: end their requesters' sessions (which hold the case key) and drop them from
        this process's search indexes. (Sessions in Redis end for every worker; other workers' indexes
        drop them at their next search.)"""
        for case_id in case_ids:
            self.sessions.end_all(kind="requester", subject=case_id)
        self.search.forget_cases(case_ids)

    def close(self) -> None:
        """Forget this process's sessions and let go of the store's connections."""
        self.rewrap.stop()
        self.sessions.close()
        self.pow.close()
        self.db.dispose()

    @classmethod
    def start(cls, settings: Settings, *, db: Database | None = None) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        secrets = load_or_create(settings.server_key_path)
        templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        templates.env.globals.update(
            languages=LANGUAGES,
            native_names=NATIVE_NAMES,
            demo=settings.demo,
            file_limits=FileLimits.of(settings),
        )
        database = db or Database.from_url(settings.resolved_database_url)
        sessions = SessionStore(secrets.session_key, _session_backend(settings))
        catalogue = default_catalogue()
        return cls(
            settings=settings,
            db=database,
            secrets=secrets,
            sessions=sessions,
            catalogue=catalogue,
            templates=templates,
            search=SearchIndexes(db=database, sessions=sessions, catalogue=catalogue),
            writer=GroupCommit(database),
            receiving=ReceivingTeam(database),
            limits=RateLimiter(
                enabled=settings.rate_limits, trust_proxy_headers=settings.trust_proxy_headers
            ),
            unknown_names=UnknownNames(),
            rewrap=Rewrapper(database, alive=sessions.alive),
            pow=ProofOfWork(
                key=secrets.pow_key,
                enabled=settings.pow,
                base_bits=settings.pow_bits,
                base_wait_seconds=settings.pow_wait_seconds,
                spent=_spent_tokens(settings),
            ),
        )


def _session_backend(settings: Settings) -> SessionBackend:
    if not settings.redis_url:
        return MemoryBackend()
    from haven.security.session_redis import RedisBackend

    return RedisBackend.connect(settings.redis_url)


def _spent_tokens(settings: Settings) -> SpentTokens:
    if not settings.redis_url:
        return MemorySpentTokens()
    from haven.security.pow_redis import RedisSpentTokens

    return RedisSpentTokens.connect(settings.redis_url)
