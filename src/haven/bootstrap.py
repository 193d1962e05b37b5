"""Setting up an organisation: `haven init` for real, `haven demo` for a seeded demonstration."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from haven.accounts.models import Operator, Role
from haven.accounts.services import create_operator, create_organisation, create_team, get_organisation
from haven.cases import services as cases
from haven.cases.states import CaseState
from haven.crypto.kdf import KdfParams
from haven.crypto.receipts import diceware
from haven.intake import services as intake
from haven.runtime import Runtime


@dataclass(frozen=True)
class Initialised:
    recovery_key: str
    admin_username: str
    admin_passphrase: str
    totp_secret: str


def format_recovery_key(private_key: bytes) -> str:
    text = base64.b32encode(private_key).decode("ascii").rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def is_initialised(runtime: Runtime) -> bool:
    with runtime.db.read() as s:
        return get_organisation(db_session=s) is not None


def init_organisation(runtime: Runtime, *, name: str, admin_username: str, kdf: KdfParams) -> Initialised:
    """Create the organisation, its intake team and the first admin, in one transaction."""
    passphrase = diceware(6)
    with runtime.db.write() as s:
        recovery = create_organisation(db_session=s, name=name)
        admin = create_operator(
            db_session=s,
            username=admin_username,
            passphrase=passphrase,
            role=Role.ADMIN,
            kdf=kdf,
            totp_key=runtime.secrets.totp_key,
            must_change_passphrase=True,
        )
        create_team(
            db_session=s, slug="intake", name="Intake", members=[admin.operator], receives_intake=True
        )
    return Initialised(format_recovery_key(recovery), admin.operator.username, passphrase, admin.totp_secret)


DEMO_USERS = (
    ("admin", Role.ADMIN, ("intake", "legal", "routes", "support")),
    ("coordinator", Role.COORDINATOR, ("intake", "legal", "routes", "support")),
    ("olena", Role.OPERATOR, ("intake",)),
    ("lawyer", Role.OPERATOR, ("legal",)),
)

DEMO_REQUESTS = (
    (
        "leave_service",
        "ru",
        {"danger_now": "yes", "where_now": "front", "goal": "surrender"},
        "Нас отправляют на штурм через два дня. Как сдаться в плен безопасно?",
    ),
    (
        "avoid_mobilisation",
        "ru",
        {"danger_now": "unsure", "summons": "yes", "location": "russia"},
        "Мне принесли повестку на работу. Что делать, чтобы не попасть на фронт?",
    ),
    (
        "relative",
        "uk",
        {"danger_now": "no", "relation": "child", "their_situation": "missing"},
        "Мій син зник безвісти три тижні тому. Допоможіть дізнатися, де він.",
    ),
    (
        "legal",
        "en",
        {"danger_now": "no", "topic": "contract"},
        "My contract ended last month but the unit will not discharge me. Is that legal?",
    ),
    ("other", "en", {"danger_now": "no"}, "Can you help my brother get documents to leave?"),
)


def seed_demo(runtime: Runtime, data_dir: Path) -> Path:
    """Create the demo organisation, users and cases; write DIR/demo-credentials.json (demo only)."""
    users: list[dict[str, object]] = []
    with runtime.db.write() as s:
        recovery = create_organisation(db_session=s, name="Haven demo")
        made: dict[str, Operator] = {}
        for username, role, teams in DEMO_USERS:
            passphrase = f"demo passphrase for {username}"
            new = create_operator(
                db_session=s,
                username=username,
                passphrase=passphrase,
                role=role,
                kdf=runtime.kdf,
                totp_key=runtime.secrets.totp_key,
            )
            made[username] = new.operator
            users.append(
                {
                    "username": username,
                    "passphrase": passphrase,
                    "totp_secret": new.totp_secret,
                    "role": role.value,
                    "teams": list(teams),
                }
            )
        # The teams the shipped procedures hand cases to (cases/procedures/).
        for slug, name in (
            ("intake", "Intake"),
            ("legal", "Legal"),
            ("routes", "Routes"),
            ("support", "Support"),
        ):
            members = [made[u] for u, _r, teams in DEMO_USERS if slug in teams]
            create_team(db_session=s, slug=slug, name=name, members=members, receives_intake=slug == "intake")
    receipts = []
    for request_type, language, answers, message in DEMO_REQUESTS:
        issued = intake.submit_request(
            db=runtime.db,
            submission=intake.Submission(request_type, language, answers, message),
            catalogue=runtime.catalogue,
            pepper=runtime.secrets.receipt_pepper,
            max_message_chars=runtime.settings.max_message_chars,
            procedures=runtime.procedures,
        )
        receipts.append(issued)
    _demo_reply(runtime, made["olena"], receipts[1].access.case_id)
    path = data_dir / "demo-credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "users": users,
                "receipts": [r.receipt for r in receipts],
                # A real organisation's recovery key is printed once and never stored; a demo's is
                # kept here so that its backups can be restored (`haven restore --recovery-key-file`).
                "recovery_key": format_recovery_key(recovery),
                "note": "DEMO ONLY: never use these.",
            },
            handle,
            ensure_ascii=False,
            indent=2,
        )
    return path


def _demo_reply(runtime: Runtime, operator: Operator, case_id: str) -> None:
    from haven.accounts.services import UnlockedOperator
    from haven.crypto.keys import unlock_with_passphrase

    key = unlock_with_passphrase(
        operator.locked_private_key,
        f"demo passphrase for {operator.username}",
        KdfParams(operator.kdf_opslimit, operator.kdf_memlimit),
    )
    unlocked = UnlockedOperator(operator.id, operator.username, Role(operator.role), key)
    cases.reply(
        db=runtime.db,
        operator=unlocked,
        case_id=case_id,
        text=(
            "Здравствуйте. Мы получили ваше сообщение. Не подписывайте ничего в военкомате; "
            "юрист свяжется с вами сегодня."
        ),
    )
    cases.change_state(db=runtime.db, operator=unlocked, case_id=case_id, target=CaseState.WAITING)
