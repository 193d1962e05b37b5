"""What a running Haven holds: settings, the store, the server secrets, sessions, templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.templating import Jinja2Templates

from haven.config import Settings
from haven.crypto.kdf import KdfParams
from haven.crypto.server_secret import ServerSecrets, load_or_create
from haven.db import Database
from haven.i18n import LANGUAGES, NATIVE_NAMES
from haven.intake.questionnaires import Catalogue, default_catalogue
from haven.security.sessions import SessionStore

TEMPLATES_DIR = Path(__file__).with_name("templates")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: ServerSecrets
    sessions: SessionStore
    catalogue: Catalogue
    templates: Jinja2Templates

    @property
    def kdf(self) -> KdfParams:
        return KdfParams(self.settings.kdf_opslimit, self.settings.kdf_memlimit)

    @classmethod
    def start(cls, settings: Settings, *, db: Database | None = None) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        secrets = load_or_create(settings.server_key_path)
        templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        templates.env.globals.update(languages=LANGUAGES, native_names=NATIVE_NAMES, demo=settings.demo)
        return cls(
            settings=settings,
            db=db or Database.from_url(settings.resolved_database_url),
            secrets=secrets,
            sessions=SessionStore(secrets.session_key),
            catalogue=default_catalogue(),
            templates=templates,
        )
