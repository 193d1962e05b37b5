"""Who may call what: every route of the app, as every kind of caller.

The table RULES below is the specification. It names, for each route (method and path, exactly as in the
app's route table), a rule; a rule says what each caller gets. The tests are generated from the app's
own routes, so a route added without a line here fails with its name, and a line for a route that is gone
fails too. Each state-changing call carries a valid CSRF token and a valid body, so what is tested is
who may call, never the CSRF check or the input rules.

Callers: nobody (no session), the requester (a receipt session from the return form, and the receipt in
`Authorization: Receipt` for the API), olena (an operator of the intake team, "team A"), lawyer (an
operator of the legal team, "team B"), the coordinator and the admin (both in both teams).

Answers: OK (2xx, or a redirect that is not to a login page); LOGIN (the API: 401 problem; the desk: 303
to /desk/login; the requester's pages: 303 to the return form or a 401 page); FORBIDDEN (403: the role
does not allow it); NOT_SHARED (404, exactly as for a case that does not exist: the case is not shared
with the caller's teams). Whatever the answer, it carries the security headers, is not cached, and any
cookie it sets is HttpOnly, Secure, SameSite=Strict and gone with the browser session.

Runs on SQLite only: one app and one organisation for the whole module keep it quick (the routes'
behaviour on PostgreSQL is covered by the other functional tests).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from starlette.routing import Mount, Route

from haven.accounts.models import Role, Team
from haven.app import create_app
from haven.cases.models import Case
from haven.cases.states import Priority
from haven.config import Settings
from haven.dependencies import OPERATOR_COOKIE, REQUESTER_COOKIE
from haven.intake import services as intake
from haven.runtime import Runtime
from tests.conftest import PROBLEM, Person, add_operator, api_login, make_organisation, module_app
from tests.functional.photos import attach_photo


class Answer(Enum):
    OK = "ok"
    LOGIN = "login required"
    FORBIDDEN = "forbidden"
    NOT_SHARED = "not shared with the caller's teams"
    ABSENT = "not served by this server"


OK, LOGIN, FORBIDDEN, NOT_SHARED = Answer.OK, Answer.LOGIN, Answer.FORBIDDEN, Answer.NOT_SHARED

CALLERS = ("anonymous", "requester", "olena", "lawyer", "coordinator", "admin")
OPERATORS = ("olena", "lawyer", "coordinator", "admin")
TEAM_OF = {"intake": ("olena", "coordinator", "admin"), "legal": ("lawyer", "coordinator", "admin")}

Rule = Callable[[str, str], Answer]  # (caller, the team of the case in the path) -> answer


def public(caller: str, team: str) -> Answer:
    return OK


def operators(caller: str, team: str) -> Answer:
    return OK if caller in OPERATORS else LOGIN


def admins(caller: str, team: str) -> Answer:
    if caller not in OPERATORS:
        return LOGIN
    return OK if caller == "admin" else FORBIDDEN


def the_cases_team(caller: str, team: str) -> Answer:
    if caller not in OPERATORS:
        return LOGIN
    return OK if caller in TEAM_OF[team] else NOT_SHARED


def the_requester(caller: str, team: str) -> Answer:
    return OK if caller == "requester" else LOGIN


def coordinators(caller: str, team: str) -> Answer:
    if caller not in OPERATORS:
        return LOGIN
    return OK if caller in ("coordinator", "admin") else FORBIDDEN


def the_cases_coordinators(caller: str, team: str) -> Answer:
    # Restricting a case: the role is checked first, so a plain operator learns nothing about the case.
    if caller not in OPERATORS:
        return LOGIN
    if caller in ("olena", "lawyer"):
        return FORBIDDEN
    return the_cases_team(caller, team)


def telegram_only(caller: str, team: str) -> Answer:
    # Telegram's secret token, not a session, opens the webhook; this app runs no bot, so it is absent for
    # everyone (test_telegram_webhook.py checks the token on a server that runs one).
    return Answer.ABSENT


# fmt: off
RULES: dict[tuple[str, str], Rule] = {
    # The requester's API: anyone may ask for help; only the receipt opens a thread.
    ("POST",   "/api/v1/requests"):                      public,
    ("GET",    "/api/v1/requests/challenge"):            public,
    ("GET",    "/api/v1/requests/me"):                   the_requester,
    ("POST",   "/api/v1/requests/me/messages"):          the_requester,
    ("POST",   "/api/v1/requests/me/feedback"):          the_requester,
    # Operator sessions: anyone may try to log in (here: with another operator's right credentials),
    # and logging out is harmless without a session.
    ("POST",   "/api/v1/session"):                       public,
    ("DELETE", "/api/v1/session"):                       public,
    # An operator's own sessions: the list, and ending one of them.
    ("GET",    "/api/v1/sessions"):                      operators,
    ("DELETE", "/api/v1/sessions/{session_id}"):         operators,
    # Cases over the API.
    ("GET",    "/api/v1/cases"):                         operators,
    ("POST",   "/api/v1/cases/search"):                  operators,
    ("GET",    "/api/v1/cases/{case_id}"):               the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/messages"):      the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/notes"):         the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/state"):         the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/step"):          the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/priority"):      the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/assignee"):      the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/verification"):  the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/restriction"):   the_cases_coordinators,
    ("PUT",    "/api/v1/cases/{case_id}/tags"):          the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/links"):         the_cases_team,
    ("DELETE", "/api/v1/cases/{case_id}/links/{other_id}"): the_cases_team,
    ("GET",    "/api/v1/cases/{case_id}/timeline"):      the_cases_team,
    ("POST",   "/api/v1/cases/{case_id}/merge"):         the_cases_team,
    ("GET",    "/api/v1/procedures"):                    operators,
    ("GET",    "/api/v1/cases/{case_id}/files/{file_id}"): the_cases_team,
    # The desk.
    ("GET",    "/desk/login"):                           public,
    ("POST",   "/desk/login"):                           public,
    ("POST",   "/desk/logout"):                          operators,
    ("GET",    "/desk/"):                                operators,
    ("GET",    "/desk/search"):                          operators,
    ("POST",   "/desk/search"):                          operators,
    ("GET",    "/desk/cases/{case_id}"):                 the_cases_team,
    ("POST",   "/desk/cases/{case_id}/reply"):           the_cases_team,
    ("POST",   "/desk/cases/{case_id}/note"):            the_cases_team,
    ("POST",   "/desk/cases/{case_id}/state"):           the_cases_team,
    ("POST",   "/desk/cases/{case_id}/step"):            the_cases_team,
    ("POST",   "/desk/cases/{case_id}/priority"):        the_cases_team,
    ("POST",   "/desk/cases/{case_id}/assignee"):        the_cases_team,
    ("POST",   "/desk/cases/{case_id}/verification"):    the_cases_team,
    ("POST",   "/desk/cases/{case_id}/restriction"):     the_cases_coordinators,
    ("POST",   "/desk/cases/{case_id}/tags"):            the_cases_team,
    ("POST",   "/desk/cases/{case_id}/links"):           the_cases_team,
    ("POST",   "/desk/cases/{case_id}/unlink"):          the_cases_team,
    ("POST",   "/desk/cases/{case_id}/merge"):           the_cases_team,
    ("GET",    "/desk/cases/{case_id}/files/{file_id}"): the_cases_team,
    ("GET",    "/desk/account"):                         operators,
    ("POST",   "/desk/account/passphrase"):              operators,
    ("POST",   "/desk/account/sessions/end"):            operators,
    ("POST",   "/desk/account/sessions/end-others"):     operators,
    ("GET",    "/desk/admin"):                           admins,
    ("POST",   "/desk/admin/teams"):                     admins,
    ("POST",   "/desk/admin/operators"):                 admins,
    ("POST",   "/desk/admin/unlock"):                    admins,
    ("POST",   "/desk/admin/revoke"):                    admins,
    ("POST",   "/desk/admin/grants"):                    admins,
    ("POST",   "/desk/admin/purge"):                     admins,
    # The statistics: exact counts, for coordinators and admins only.
    ("GET",    "/desk/stats"):                           coordinators,
    ("GET",    "/desk/stats.csv"):                       coordinators,
    ("GET",    "/desk/stats/languages"):                 coordinators,
    ("POST",   "/desk/stats/publish"):                   coordinators,
    # The requester's pages.
    ("GET",    "/"):                                     public,
    ("GET",    "/{lang:lang}/"):                         public,
    ("GET",    "/{lang:lang}/request/{request_type}"):   public,
    ("POST",   "/{lang:lang}/request/{request_type}"):   public,
    ("GET",    "/{lang:lang}/return"):                   public,
    ("POST",   "/{lang:lang}/return"):                   public,
    ("GET",    "/{lang:lang}/thread"):                   the_requester,
    ("POST",   "/{lang:lang}/thread"):                   the_requester,
    ("POST",   "/{lang:lang}/thread/feedback"):          the_requester,
    ("POST",   "/{lang:lang}/leave"):                    public,
    # The public numbers: only what the organisation published.
    ("GET",    "/{lang:lang}/numbers"):                  public,
    ("GET",    "/api/v1/public/stats"):                  public,
    ("GET",    "/api/v1/public/stats.csv"):              public,
    # Telegram's updates.
    ("POST",   "/telegram/webhook"):                     telegram_only,
}
# fmt: on

# Served by the app but not routes of ours: the files under /static and the OpenAPI document.
NOT_RULED = ("/static", "/api/v1/openapi.json")


def app_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route in the app's route table, in order (included routers unfolded)."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(app.routes):
        if route.path in NOT_RULED and isinstance(route.original_route, Mount | Route):
            continue
        methods = set(route.methods or {"(no method)"})
        if "GET" in methods:
            methods.discard("HEAD")  # answered by the GET route itself
        found.extend((method, route.path or "(no path)") for method in sorted(methods))
    return found


def _routes_of_a_fresh_app() -> list[tuple[str, str]]:
    # Built at collection, so that the tests are generated from the real route table.
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(data_dir=Path(directory)))
        try:
            return app_routes(app)
        finally:
            app.state.runtime.close()


ROUTES = _routes_of_a_fresh_app()


@dataclass
class Caller:
    name: str
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    csrf: str = ""


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    people: dict[str, Person]
    callers: dict[str, Caller]
    receipt: str
    case_of: dict[str, str]  # team slug -> the id of a case shared with that team only
    team_ids: dict[str, int]
    spare_count: int = 0
    file_of: dict[str, str] = field(default_factory=dict)  # case id -> a photo sent with it
    # case id -> another case of the same team only, to link it to
    sibling_of: dict[str, str] = field(default_factory=dict)

    def spare_operator(self) -> Person:
        """A new operator in no team: someone else's right credentials, for the login routes."""
        self.spare_count += 1
        return add_operator(self.runtime, f"spare{self.spare_count}", Role.OPERATOR)

    def spare_session(self, caller: Caller) -> Caller:
        """A second session of the same operator, for the logout routes (the caller's own stays open)."""
        person = self.people[caller.name]
        token, csrf = self.runtime.sessions.start(
            kind="operator",
            subject=str(person.id),
            key=person.unlocked.private_key,
            idle_seconds=600,
            label=f"{person.role.value}:{person.username}",
        )
        return Caller(caller.name, {OPERATOR_COOKIE: token}, {"X-CSRF-Token": csrf}, csrf)

    def spare_requester(self) -> Caller:
        """A second receipt session, from the return form, for the leave route."""
        self.client.cookies.clear()
        opened = self.client.post("/en/return", data={"receipt": self.receipt}, follow_redirects=False)
        assert opened.status_code == 303, opened.text
        return Caller("requester", {REQUESTER_COOKIE: opened.cookies[REQUESTER_COOKIE]})

    def case_state(self, case_id: str) -> str:
        with self.runtime.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None
            return case.state

    def case_step(self, case_id: str) -> str:
        return self.case_value(case_id, "step")

    def case_value(self, case_id: str, column: str) -> str:
        with self.runtime.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None
            return str(getattr(case, column))


MARKER = {"intake": "marmot-marker-7031", "legal": "ibex-marker-2262"}


def seal_case_for(runtime: Runtime, team_slug: str, message: str) -> intake.SealedCase:
    """A new case sealed to one team and stored (requests sent over HTTP all go to intake)."""
    with runtime.db.read() as s:
        team = s.scalars(select(Team).where(Team.slug == team_slug)).one()
        team_id, public_key, generation = team.id, team.public_key, team.key_generation
    sealed = intake.seal_new_case(
        request_type="legal",
        language="en",
        answers={"danger_now": "no", "topic": "other"},
        message=message,
        priority=Priority.NORMAL,
        team_id=team_id,
        team_public_key=public_key,
        team_key_generation=generation,
        pepper=runtime.secrets.receipt_pepper,
        entry=intake.entry_for("legal", runtime.catalogue, runtime.procedures),
    )
    with runtime.db.write() as s:
        s.add_all(sealed.rows)
    return sealed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = module_app(tmp_path_factory.mktemp("authorization") / "data")
    database = app.state.runtime.db
    runtime: Runtime = app.state.runtime
    people = make_organisation(runtime).by_username()
    with TestClient(app, base_url="https://testserver") as client:
        submitted = client.post(
            "/api/v1/requests",
            json={
                "type": "legal",
                "language": "en",
                "answers": {"danger_now": "no", "topic": "other"},
                "message": f"Help {MARKER['intake']}",
            },
        )
        assert submitted.status_code == 201, submitted.text
        receipt = submitted.json()["receipt"]
        access = intake.open_with_receipt(
            db=database, receipt_text=receipt, pepper=runtime.secrets.receipt_pepper
        )
        assert access is not None
        with database.read() as s:
            team_ids = {t.slug: t.id for t in s.scalars(select(Team))}
        legal_case = seal_case_for(runtime, "legal", f"Help {MARKER['legal']}").case_id
        w = World(
            client,
            runtime,
            people,
            {},
            receipt,
            {"intake": access.case_id, "legal": legal_case},
            team_ids,
        )
        w.file_of = {case_id: attach_photo(runtime, case_id) for case_id in w.case_of.values()}
        w.sibling_of = {
            case_id: seal_case_for(runtime, team, f"Sibling {MARKER[team]}").case_id
            for team, case_id in w.case_of.items()
        }
        w.callers["anonymous"] = Caller("anonymous")
        requester = w.spare_requester()
        thread = client.get(
            "/en/thread", headers={"Cookie": f"{REQUESTER_COOKIE}={requester.cookies[REQUESTER_COOKIE]}"}
        )
        found = re.search(r'name="csrf_token" value="([^"]+)"', thread.text)
        assert found, thread.text
        requester.csrf = found.group(1)
        requester.headers = {"Authorization": f"Receipt {receipt}"}
        w.callers["requester"] = requester
        for name in OPERATORS:
            client.cookies.clear()
            headers = api_login(client, people[name])
            w.callers[name] = Caller(
                name, {OPERATOR_COOKIE: client.cookies[OPERATOR_COOKIE]}, headers, headers["X-CSRF-Token"]
            )
        yield w
    runtime.close()


@dataclass(frozen=True)
class Call:
    """What one caller sends to one route, with valid input; `done` tells that an OK call did its work."""

    caller: Caller
    json: Mapping[str, Any] | None = None
    form: Mapping[str, Any] | None = None
    done: Callable[[Response], bool] | None = None
    path_values: Mapping[str, str] = field(default_factory=dict)  # e.g. {"session_id": ...}
    # The answer an allowed caller gets when the call is valid but the case cannot take it now (409: the
    # world's case is open, so it asks no closing question); None: any 2xx or 3xx.
    allowed_status: int | None = None


def _login_json(w: World, caller: Caller) -> Call:
    spare = w.spare_operator()
    return Call(
        caller, json={"username": spare.username, "passphrase": spare.passphrase, "totp": spare.code()}
    )


def _login_form(w: World, caller: Caller) -> Call:
    spare = w.spare_operator()
    return Call(
        caller, form={"username": spare.username, "passphrase": spare.passphrase, "code": spare.code()}
    )


def _own_session_kept(w: World, caller: Caller) -> Caller:
    if caller.name in OPERATORS:
        return w.spare_session(caller)
    if caller.name == "requester":
        return w.spare_requester()
    return caller


def _ends_the_session(w: World, caller: Caller) -> Call:
    spare = _own_session_kept(w, caller)
    token = spare.cookies.get(OPERATOR_COOKIE)

    def ended(_response: Response) -> bool:
        return w.runtime.sessions.resolve(token, kind="operator") is None

    return Call(spare, form={"csrf_token": spare.csrf}, done=ended if token else None)


def _ends_another_own_session(w: World, caller: Caller, *, form: bool) -> Call:
    """The caller, from their own session, ends a second session of theirs (as if on a lost phone)."""
    other = _own_session_kept(w, caller)
    token = other.cookies.get(OPERATOR_COOKIE)
    session = w.runtime.sessions.resolve(token, kind="operator") if token else None
    session_id = session.id if session else "0" * 64

    def ended(_response: Response) -> bool:
        return w.runtime.sessions.resolve(token, kind="operator") is None

    done = ended if token else None
    if form:
        return Call(caller, form={"session_id": session_id, "csrf_token": caller.csrf}, done=done)
    return Call(caller, path_values={"session_id": session_id}, done=done)


def _ends_every_other_own_session(w: World, caller: Caller) -> Call:
    other = _own_session_kept(w, caller)
    token = other.cookies.get(OPERATOR_COOKIE)

    def ended(_response: Response) -> bool:
        mine = w.runtime.sessions.resolve(caller.cookies.get(OPERATOR_COOKIE), kind="operator")
        return mine is not None and w.runtime.sessions.resolve(token, kind="operator") is None

    return Call(caller, form={"csrf_token": caller.csrf}, done=ended if token else None)


def _state_unchanged(w: World, caller: Caller, case_id: str, *, form: bool) -> Call:
    # Moving a case to the state it is in changes nothing: the call is valid whatever ran before.
    state = w.case_state(case_id)
    if form:
        return Call(caller, form={"state": state, "csrf_token": caller.csrf})
    return Call(caller, json={"state": state})


def _text(caller: Caller, key: str = "text") -> Call:
    return Call(caller, form={key: f"written by {caller.name}", "csrf_token": caller.csrf})


Builder = Callable[[World, Caller, str], Call]  # (world, caller, case id) -> the call

BODIES: dict[tuple[str, str], Builder] = {
    ("POST", "/api/v1/requests"): lambda w, c, _: Call(
        c,
        json={
            "type": "legal",
            "language": "en",
            "answers": {"danger_now": "no", "topic": "other"},
            "message": "Help",
        },
    ),
    ("POST", "/api/v1/requests/me/messages"): lambda w, c, _: Call(c, json={"message": "Still here"}),
    ("POST", "/api/v1/requests/me/feedback"): lambda w, c, _: Call(
        c, json={"helped": True}, allowed_status=409
    ),
    ("POST", "/api/v1/session"): lambda w, c, _: _login_json(w, c),
    ("DELETE", "/api/v1/session"): lambda w, c, _: _ends_the_session(w, c),
    ("DELETE", "/api/v1/sessions/{session_id}"): lambda w, c, _: _ends_another_own_session(w, c, form=False),
    ("POST", "/api/v1/cases/search"): lambda w, c, _: Call(c, json={"q": "help"}),
    ("POST", "/api/v1/cases/{case_id}/messages"): lambda w, c, _: Call(c, json={"text": "A reply"}),
    ("POST", "/api/v1/cases/{case_id}/notes"): lambda w, c, _: Call(c, json={"text": "A note"}),
    ("POST", "/api/v1/cases/{case_id}/state"): lambda w, c, case: _state_unchanged(w, c, case, form=False),
    # "Moving" to the current step saves its work and moves nothing: valid whatever ran before.
    ("POST", "/api/v1/cases/{case_id}/step"): lambda w, c, case: Call(c, json={"step": w.case_step(case)}),
    # Setting what is already set changes nothing: valid whatever ran before.
    ("POST", "/api/v1/cases/{case_id}/priority"): lambda w, c, case: Call(
        c, json={"priority": w.case_value(case, "priority")}
    ),
    # Nobody assigned, again and again: valid whatever ran before (a reply takes the case, so not "nobody"
    # as a no-op, but assigning nobody is always allowed).
    ("POST", "/api/v1/cases/{case_id}/assignee"): lambda w, c, _: Call(c, json={"username": None}),
    ("POST", "/desk/cases/{case_id}/assignee"): lambda w, c, _: Call(
        c, form={"assignee": "", "csrf_token": c.csrf}
    ),
    ("POST", "/api/v1/cases/{case_id}/verification"): lambda w, c, case: Call(
        c, json={"verification": w.case_value(case, "verification")}
    ),
    ("POST", "/api/v1/cases/{case_id}/restriction"): lambda w, c, _: Call(c, json={"restricted": False}),
    ("PUT", "/api/v1/cases/{case_id}/tags"): lambda w, c, _: Call(c, json={"tags": ["matrix"]}),
    ("POST", "/api/v1/cases/{case_id}/links"): lambda w, c, case: Call(
        c, json={"case_id": w.sibling_of[case]}
    ),
    ("DELETE", "/api/v1/cases/{case_id}/links/{other_id}"): lambda w, c, case: Call(
        c, path_values={"other_id": w.sibling_of[case]}
    ),
    # The sibling is merged into the case by the first caller allowed; merging it again changes nothing.
    ("POST", "/api/v1/cases/{case_id}/merge"): lambda w, c, case: Call(
        c, path_values={"case_id": w.sibling_of[case]}, json={"into": case}
    ),
    ("POST", "/desk/login"): lambda w, c, _: _login_form(w, c),
    ("POST", "/desk/logout"): lambda w, c, _: _ends_the_session(w, c),
    ("POST", "/desk/search"): lambda w, c, _: Call(c, form={"q": "help", "csrf_token": c.csrf}),
    ("POST", "/desk/cases/{case_id}/reply"): lambda w, c, _: _text(c),
    ("POST", "/desk/cases/{case_id}/note"): lambda w, c, _: _text(c),
    ("POST", "/desk/cases/{case_id}/state"): lambda w, c, case: _state_unchanged(w, c, case, form=True),
    # As over the API: "moving" to the current step saves, setting what is set changes nothing.
    ("POST", "/desk/cases/{case_id}/step"): lambda w, c, case: Call(
        c, form={"step": w.case_step(case), "to": w.case_step(case), "csrf_token": c.csrf}
    ),
    ("POST", "/desk/cases/{case_id}/priority"): lambda w, c, case: Call(
        c, form={"priority": w.case_value(case, "priority"), "csrf_token": c.csrf}
    ),
    ("POST", "/desk/cases/{case_id}/verification"): lambda w, c, case: Call(
        c, form={"verification": w.case_value(case, "verification"), "csrf_token": c.csrf}
    ),
    ("POST", "/desk/cases/{case_id}/restriction"): lambda w, c, _: Call(
        c, form={"restricted": "no", "csrf_token": c.csrf}
    ),
    ("POST", "/desk/cases/{case_id}/tags"): lambda w, c, _: Call(
        c, form={"tags": "matrix", "csrf_token": c.csrf}
    ),
    ("POST", "/desk/cases/{case_id}/links"): lambda w, c, case: Call(
        c, form={"other": w.sibling_of[case], "csrf_token": c.csrf}
    ),
    ("POST", "/desk/cases/{case_id}/unlink"): lambda w, c, case: Call(
        c, form={"other": w.sibling_of[case], "csrf_token": c.csrf}
    ),
    # As over the API: the sibling merged into the case once, again changing nothing.
    ("POST", "/desk/cases/{case_id}/merge"): lambda w, c, case: Call(
        c, path_values={"case_id": w.sibling_of[case]}, form={"into": case, "csrf_token": c.csrf}
    ),
    ("GET", "/desk/cases/{case_id}/files/{file_id}"): lambda w, c, case: Call(
        c, path_values={"file_id": w.file_of[case]}
    ),
    ("GET", "/api/v1/cases/{case_id}/files/{file_id}"): lambda w, c, case: Call(
        c, path_values={"file_id": w.file_of[case]}
    ),
    ("POST", "/desk/account/passphrase"): lambda w, c, _: Call(
        c,
        form={
            "current": w.people[c.name].passphrase if c.name in w.people else "",
            "new": "a brand new long passphrase",
            "repeat": "a brand new long passphrase",
            "csrf_token": c.csrf,
        },
    ),
    ("POST", "/desk/account/sessions/end"): lambda w, c, _: _ends_another_own_session(w, c, form=True),
    ("POST", "/desk/account/sessions/end-others"): lambda w, c, _: _ends_every_other_own_session(w, c),
    ("POST", "/desk/admin/teams"): lambda w, c, _: Call(
        c, form={"slug": f"matrix-{c.name}", "name": f"Matrix {c.name}", "csrf_token": c.csrf}
    ),
    ("POST", "/desk/admin/operators"): lambda w, c, _: Call(
        c, form={"username": f"matrix-{c.name}", "role": "operator", "csrf_token": c.csrf}
    ),
    ("POST", "/desk/admin/unlock"): lambda w, c, _: Call(
        c, form={"operator_id": w.spare_operator().id, "csrf_token": c.csrf}
    ),
    ("POST", "/desk/admin/revoke"): lambda w, c, _: Call(
        c, form={"operator_id": w.spare_operator().id, "csrf_token": c.csrf}
    ),
    # Publishing again publishes nothing new: the call shows that.
    ("POST", "/desk/stats/publish"): lambda w, c, _: Call(c, form={"csrf_token": c.csrf}),
    # Nothing here is old enough to purge: the call runs the purge and shows that nothing went.
    ("POST", "/desk/admin/purge"): lambda w, c, _: Call(c, form={"csrf_token": c.csrf}),
    ("POST", "/desk/admin/grants"): lambda w, c, _: Call(
        c, form={"operator_id": w.spare_operator().id, "team_id": w.team_ids["intake"], "csrf_token": c.csrf}
    ),
    ("POST", "/{lang:lang}/request/{request_type}"): lambda w, c, _: Call(
        c, form={"q_danger_now": "no", "q_topic": "other", "message": "Help"}
    ),
    ("POST", "/{lang:lang}/return"): lambda w, c, _: Call(c, form={"receipt": w.receipt}),
    ("POST", "/{lang:lang}/thread"): lambda w, c, _: _text(c, "message"),
    ("POST", "/{lang:lang}/thread/feedback"): lambda w, c, _: Call(
        c, form={"helped": "yes", "csrf_token": c.csrf}, allowed_status=400
    ),
    ("POST", "/{lang:lang}/leave"): lambda w, c, _: Call(_own_session_kept(w, c)),
}


def _url(path: str, case_id: str, values: Mapping[str, str]) -> str:
    # A call's own path values first: one may name another case of the same team than the world's.
    url = path
    for name, value in values.items():
        url = url.replace(f"{{{name}}}", value)
    return url.replace("{case_id}", case_id).replace("{lang:lang}", "en").replace("{request_type}", "legal")


LOGIN_PAGES = ("/desk/login", "/en/return")


def _assert_headers_and_cookies(response: Response) -> None:
    """What every answer of every route carries, whoever asks: the security headers, no caching of
    anything but static files, and cookies only HttpOnly, SameSite=Strict, Secure and for the whole site."""
    headers = response.headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["referrer-policy"], headers["x-frame-options"]) == ("no-referrer", "DENY")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert "server" not in headers
    for cookie in headers.get_list("set-cookie"):
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite", "path"} <= flags, cookie
        assert "samesite=strict" in cookie.lower(), cookie
        assert "expires" not in flags or "max-age=0" in cookie.lower(), f"a lasting cookie: {cookie}"


def _assert_answer(response: Response, expected: Answer, path: str, call: Call) -> None:
    _assert_headers_and_cookies(response)
    status, location = response.status_code, response.headers.get("location", "")
    kind = "api" if path.startswith("/api/") else "desk" if path.startswith("/desk") else "pages"
    assert status < 500, response.text
    if expected is OK and call.allowed_status is not None:
        assert status == call.allowed_status, f"{status}: {response.text[:300]}"
        return
    if expected is OK:
        assert 200 <= status < 400, f"{status}: {response.text[:300]}"
        if call.done is not None:
            assert call.done(response), "the call answered but did not do its work"
        elif 300 <= status < 400:
            assert location not in LOGIN_PAGES, f"redirected to {location}"
        return
    for marker in MARKER.values():
        assert marker not in response.text
    if expected is LOGIN:
        if kind == "api":
            assert status == 401, response.text
        elif kind == "desk":
            assert (status, location) == (303, "/desk/login")
        else:
            assert (status, location) in ((303, "/en/return"), (401, ""))
    elif expected in (NOT_SHARED, Answer.ABSENT):  # NOT_SHARED: exactly like a case that does not exist
        assert status == 404, f"{status}: {response.text[:300]}"
    else:
        assert status == 403, f"{status}: {response.text[:300]}"
    if kind == "api":
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["detail"]


def _cases() -> Iterator[Any]:
    for method, path in ROUTES:
        teams = ("intake", "legal") if "{case_id}" in path else ("intake",)
        for team in teams:
            of_team = f" of {team}" if team != "intake" else ""
            for caller in CALLERS:
                yield pytest.param(method, path, team, caller, id=f"{method} {path}{of_team} as {caller}")


@pytest.mark.parametrize(("method", "path", "team", "caller"), list(_cases()))
def test_who_may_call_what(world: World, method: str, path: str, team: str, caller: str) -> None:
    rule = RULES.get((method, path))
    if rule is None:
        pytest.fail(f"{method} {path} has no rule in RULES (tests/functional/test_authorization.py): add one")
    expected = rule(caller, team)
    case_id = world.case_of[team]
    who = world.callers[caller]
    build = BODIES.get((method, path))
    call = build(world, who, case_id) if build else Call(who)
    cookie = "; ".join(f"{k}={v}" for k, v in call.caller.cookies.items())
    headers = {**call.caller.headers, **({"Cookie": cookie} if cookie else {})}
    world.client.cookies.clear()
    response = world.client.request(
        method,
        _url(path, case_id, call.path_values),
        headers=headers,
        json=call.json,
        data=call.form,
        follow_redirects=False,
    )
    _assert_answer(response, expected, path, call)


def test_every_rule_names_a_route_of_the_app() -> None:
    stale = sorted(set(RULES) - set(ROUTES))
    assert not stale, f"rules for routes the app no longer has: {stale}"
