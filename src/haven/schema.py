"""Every table of Haven, imported in one place for Alembic and for tests."""

from haven.accounts import models as accounts_models
from haven.attachments import models as attachments_models
from haven.audit import models as audit_models
from haven.cases import models as cases_models
from haven.channels import models as channels_models
from haven.channels.telegram import models as telegram_models
from haven.db import Base
from haven.retention import models as retention_models
from haven.stats import models as stats_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "attachments_models",
    "audit_models",
    "cases_models",
    "channels_models",
    "metadata",
    "retention_models",
    "stats_models",
    "telegram_models",
]
