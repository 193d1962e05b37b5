"""The HTML pages against generated input: every form route of the requester's pages and of the desk gets
generated form fields (known names and random ones, any text, huge values, control characters), as nobody,
as a requester with a receipt session and as an operator with a valid CSRF token; every page route gets
generated path parts and query strings.

Whatever is sent, the answer is never a 5xx, never shows a traceback, is a page or a redirect (never JSON
to a browser), and the server still answers afterwards. A fixed number of examples per route keeps the
module under a minute.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haven.app import create_app
from haven.config import Settings
from haven.dependencies import OPERATOR_COOKIE, REQUESTER_COOKIE
from haven.i18n import LANGUAGES
from haven.intake.questionnaires import default_catalogue
from haven.runtime import Runtime
from tests.conftest import Person, make_organisation, module_app
from tests.functional.test_authorization import seal_case_for
from tests.functional.test_fuzz_api import TRACEBACK_SIGNS

EXAMPLES_PER_ROUTE = 25
BUDGET = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=timedelta(seconds=2),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Field names the forms use, so that generated values reach the code behind the first check.
KNOWN_FIELDS = (
    "csrf_token", "message", "receipt", "q", "text", "state", "username", "passphrase", "code", "current",
    "new", "repeat", "slug", "name", "role", "operator_id", "team_id", "session_id", "page",
    "pow_token", "pow_solution", "q_danger_now", "q_topic", "q_relation", "q_status",
)  # fmt: skip


def page_routes() -> list[tuple[str, str]]:
    """(method, path) of every route that is not part of the JSON API, read at collection. The Telegram
    webhook speaks JSON to Telegram: test_telegram_webhook.py fuzzes it with updates."""
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(data_dir=Path(directory)))
        try:
            return [
                (method, route.path)
                for route in iter_route_contexts(app.routes)
                if isinstance(route.original_route, APIRoute)
                and not route.path.startswith(("/api/", "/telegram/"))
                for method in sorted(set(route.methods or ()) - {"HEAD"})
            ]
        finally:
            app.state.runtime.close()


ROUTES = page_routes()


@dataclass
class Pages:
    app: FastAPI
    runtime: Runtime
    olena: Person
    case_id: str
    receipt: str
    operator_cookie: str = ""
    operator_csrf: str = ""
    requester_cookie: str = ""
    requester_csrf: str = ""

    def operator(self) -> tuple[str, str]:
        """Olena's session (a new one when a generated call ended it): (cookie, CSRF token)."""
        if self.runtime.sessions.resolve(self.operator_cookie, kind="operator") is None:
            self.operator_cookie, self.operator_csrf = self.runtime.sessions.start(
                kind="operator",
                subject=str(self.olena.id),
                key=self.olena.unlocked.private_key,
                idle_seconds=600,
                label=f"{self.olena.role.value}:{self.olena.username}",
            )
        return self.operator_cookie, self.operator_csrf

    def requester(self, client: TestClient) -> tuple[str, str]:
        """A receipt session (a new one when a generated call ended it): (cookie, CSRF token)."""
        if self.runtime.sessions.resolve(self.requester_cookie, kind="requester") is None:
            client.cookies.clear()
            opened = client.post("/en/return", data={"receipt": self.receipt}, follow_redirects=False)
            assert opened.status_code == 303, opened.text
            self.requester_cookie = opened.cookies[REQUESTER_COOKIE]
            thread = client.get(
                "/en/thread", headers={"Cookie": f"{REQUESTER_COOKIE}={self.requester_cookie}"}
            )
            found = re.search(r'name="csrf_token" value="([^"]+)"', thread.text)
            assert found, thread.text
            self.requester_csrf = found.group(1)
            client.cookies.clear()
        return self.requester_cookie, self.requester_csrf


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pages, TestClient]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz-pages") / "data"
    app = module_app(data_dir)
    runtime: Runtime = app.state.runtime
    olena = make_organisation(runtime).intake
    case = seal_case_for(runtime, "intake", "Please help")
    with TestClient(app, base_url="https://testserver") as client:
        yield Pages(app, runtime, olena, case.case_id, case.receipt), client
    runtime.close()


hostile_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", "0", "-1", "99999999999999999999", "../../etc/passwd", "<script>", "\x00", "%00"]),
    st.just("x" * 50_000),
)
form_fields = st.dictionaries(
    st.one_of(st.sampled_from(KNOWN_FIELDS), st.text(min_size=1, max_size=20)), hostile_text, max_size=8
)
# Query strings stay under what a client sends in a URL (the body limit is tested through the forms).
query_fields = st.dictionaries(
    st.one_of(st.sampled_from(("page", "q", "notice", "sent", "done", "revoked")), st.text(max_size=10)),
    st.text(max_size=200),
    max_size=4,
)
# Any text as a path segment, percent-encoded as a browser sends it.
path_part = st.one_of(
    st.text(min_size=1, max_size=30).map(lambda part: quote(part, safe="")),
    st.sampled_from(["0", "-", "%2e%2e", "%00", "x" * 300]),
)


def fill_path(path: str, pages: Pages) -> st.SearchStrategy[str]:
    catalogue = default_catalogue()
    parts = {
        "{lang:lang}": st.one_of(st.sampled_from(LANGUAGES), path_part),
        "{request_type}": st.one_of(st.sampled_from(sorted(catalogue.types)), path_part),
        "{case_id}": st.one_of(st.just(pages.case_id), path_part),
    }
    strategy: st.SearchStrategy[str] = st.just(path)
    for name, values in parts.items():
        if name in path:
            strategy = st.tuples(strategy, values).map(lambda pair, n=name: pair[0].replace(n, pair[1]))
    return strategy


def assert_page_answer(response: Any) -> None:
    status, text = response.status_code, response.text
    assert status < 500, f"{status}: {text[:500]}"
    for sign in TRACEBACK_SIGNS:
        assert sign not in text, text[:500]
    if status < 300 or status >= 400:
        assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]


@pytest.mark.parametrize("caller", ["nobody", "requester", "operator"])
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_any_form_or_address_gets_a_page(
    pages: tuple[Pages, TestClient], method: str, path: str, caller: str
) -> None:
    world, client = pages

    @BUDGET
    @given(url=fill_path(path, world), fields=form_fields, query=query_fields, right_csrf=st.booleans())
    def answers_with_a_page(
        url: str, fields: dict[str, str], query: dict[str, str], right_csrf: bool
    ) -> None:
        headers: dict[str, str] = {}
        if caller == "operator":
            cookie, csrf = world.operator()
            headers["Cookie"] = f"{OPERATOR_COOKIE}={cookie}"
        elif caller == "requester":
            cookie, csrf = world.requester(client)
            headers["Cookie"] = f"{REQUESTER_COOKIE}={cookie}"
        else:
            csrf = ""
        if right_csrf and csrf:
            fields = {**fields, "csrf_token": csrf}
        client.cookies.clear()
        if method == "GET":
            response = client.get(url, params=query, headers=headers, follow_redirects=False)
        else:
            response = client.post(url, data=fields, headers=headers, follow_redirects=False)
        assert_page_answer(response)

    answers_with_a_page()


def test_the_pages_still_answer_afterwards(pages: tuple[Pages, TestClient]) -> None:
    world, client = pages
    client.cookies.clear()
    assert client.get("/en/").status_code == 200
    assert client.get("/desk/login").status_code == 200
    opened = client.post("/en/return", data={"receipt": world.receipt}, follow_redirects=False)
    assert opened.status_code == 303
