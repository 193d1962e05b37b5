"""What a running Haven holds: settings, the store, server secrets, sessions, search indexes, templates."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.templating import Jinja2Templates

from haven.accounts.lockout import UnknownNames
from haven.accounts.services import UnlockedOperator
from haven.attachments.forms import FileLimits
from haven.cases.procedure import Procedures
from haven.cases.procedure_files import SHIPPED, load_all
from haven.cases.rewrap import Rewrapper
from haven.cases.search import SearchIndexes
from haven.cases.services import CaseView
from haven.channels import replies
from haven.channels.outbox import Outbox
from haven.channels.telegram.bot import CHANNEL, BotRules, TelegramBot
from haven.channels.telegram.bot_api import BotApi
from haven.channels.telegram.chat_keys import ChatKeyCache
from haven.config import Settings, SettingsError
from haven.crypto.kdf import KdfParams
from haven.crypto.server_secret import ServerSecrets, load_or_create
from haven.db import Database, GroupCommit
from haven.i18n import LANGUAGES, NATIVE_NAMES
from haven.intake.questionnaires import Catalogue, default_catalogue
from haven.intake.services import ReceivingTeam
from haven.security.pow import MemorySpentTokens, ProofOfWork, SpentTokens
from haven.security.ratelimit import RateLimiter
from haven.security.sessions import MemoryBackend, SessionBackend, SessionStore

log = logging.getLogger(__name__)
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
    # The procedures cases follow (shipped, and the organisation's own), checked at start.
    procedures: Procedures = field(default_factory=lambda: Procedures({}))
    # The Telegram bot and the outbox that delivers replies through it, when a bot token is set.
    telegram: TelegramBot | None = None
    telegram_api: BotApi | None = None
    outbox: Outbox | None = None

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

    def resume_deliveries(self, operator: UnlockedOperator) -> None:
        """Hand the outbox the replies a restart left undelivered in every case of the operator's teams (at
        login: only a member can open what to send)."""
        outbox, sole_sender = self.outbox, self.settings.workers == 1
        if outbox is not None:
            self._resuming(
                lambda: replies.resume(db=self.db, operator=operator, outbox=outbox, sole_sender=sole_sender)
            )

    def resume_case_deliveries(self, case: CaseView) -> None:
        """The same for one case an operator has just opened, from its records already decrypted."""
        outbox, sole_sender = self.outbox, self.settings.workers == 1
        if outbox is not None:
            self._resuming(
                lambda: replies.resume_opened(db=self.db, outbox=outbox, case=case, sole_sender=sole_sender)
            )

    @staticmethod
    def _resuming(resume: Callable[[], int]) -> None:
        """Never fails the login or the page that resumes: an error is logged by its class only."""
        try:
            resume()
        except Exception as exc:
            log.error("resuming deliveries failed: %s", type(exc).__name__)

    def start_channels(self) -> None:
        """Start the threads that deliver replies and delete old messages from requesters' phones."""
        if self.outbox is not None:
            self.outbox.start()
        if self.telegram is not None:
            self.telegram.deletions.start()

    def close(self) -> None:
        """Forget this process's sessions and let go of the store's connections."""
        if self.outbox is not None:
            self.outbox.stop()
        if self.telegram is not None:
            self.telegram.close()
        if self.telegram_api is not None:
            self.telegram_api.close()
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
        procedures = load_procedures(settings, catalogue)
        receiving = ReceivingTeam(database)
        limits = RateLimiter(enabled=settings.rate_limits, trust_proxy_headers=settings.trust_proxy_headers)
        telegram_api = (
            BotApi(token=settings.telegram_token, api_url=settings.telegram_api_url)
            if settings.telegram_enabled
            else None
        )
        telegram = (
            _telegram_bot(settings, telegram_api, database, secrets, catalogue, procedures, limits, receiving)
            if telegram_api is not None
            else None
        )
        return cls(
            settings=settings,
            db=database,
            secrets=secrets,
            sessions=sessions,
            catalogue=catalogue,
            templates=templates,
            search=SearchIndexes(db=database, sessions=sessions, catalogue=catalogue),
            writer=GroupCommit(database),
            receiving=receiving,
            limits=limits,
            unknown_names=UnknownNames(),
            rewrap=Rewrapper(database, alive=sessions.alive),
            pow=ProofOfWork(
                key=secrets.pow_key,
                enabled=settings.pow,
                base_bits=settings.pow_bits,
                base_wait_seconds=settings.pow_wait_seconds,
                spent=_spent_tokens(settings),
            ),
            procedures=procedures,
            telegram=telegram,
            telegram_api=telegram_api,
            outbox=Outbox(database, {CHANNEL: telegram}) if telegram is not None else None,
        )


def _telegram_bot(
    settings: Settings,
    api: BotApi,
    db: Database,
    secrets: ServerSecrets,
    catalogue: Catalogue,
    procedures: Procedures,
    limits: RateLimiter,
    receiving: ReceivingTeam,
) -> TelegramBot:
    return TelegramBot(
        db=db,
        api=api,
        catalogue=catalogue,
        procedures=procedures,
        pepper=secrets.receipt_pepper,
        keys=ChatKeyCache(
            pepper=secrets.receipt_pepper,
            params=KdfParams(settings.telegram_hash_opslimit, settings.telegram_hash_memlimit),
        ),
        limits=limits,
        receiving=receiving,
        rules=BotRules(
            org=settings.org_name,
            delete_after_hours=settings.telegram_delete_after_hours,
            max_message_chars=settings.max_message_chars,
            files=FileLimits.of(settings),
        ),
    )


def load_procedures(settings: Settings, catalogue: Catalogue) -> Procedures:
    """The shipped procedures and the organisation's own; raises ProcedureError for a wrong file and
    SettingsError for a request type whose procedure is not among them."""
    procedures = load_all([SHIPPED, settings.resolved_procedures_dir])
    for kind in catalogue.types.values():
        if kind.procedure and procedures.get(kind.procedure) is None:
            raise SettingsError(
                f"the request type {kind.id!r} follows the procedure {kind.procedure!r}, which no file in "
                f"{SHIPPED} or {settings.resolved_procedures_dir} defines"
            )
    return procedures


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
