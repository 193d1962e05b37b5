"""The JSON API against generated input: every operation of its OpenAPI document, valid and invalid
requests, as nobody and as a logged-in operator, in process (no network).

Whatever is sent, the answer is never a 5xx; every 4xx is `application/problem+json` with a `detail`; no
answer holds a traceback; and the server still answers properly afterwards. The budget is a fixed number
of examples per operation and a deadline per example (hypothesis settings below), so the module takes
well under a minute.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.schemas import OpenApiSchema

from haven.app import create_app
from haven.config import Settings
from haven.dependencies import OPERATOR_COOKIE
from haven.i18n import LANGUAGES
from haven.intake.questionnaires import default_catalogue
from haven.runtime import Runtime
from tests.conftest import PROBLEM, Person, api_login, make_organisation, module_app
from tests.functional.test_authorization import Caller, seal_case_for

EXAMPLES_PER_OPERATION = 40
DEADLINE = timedelta(seconds=2)  # one request, on a busy two-core machine


TRACEBACK_SIGNS = ("Traceback", 'File "')


@dataclass
class Fuzzed:
    app: FastAPI
    runtime: Runtime
    olena: Person
    session: Caller  # olena's session: cookie and CSRF token
    case_id: str  # a case of olena's team
    receipt: str  # its receipt

    def operator_headers(self) -> dict[str, str]:
        """Olena's credentials; a new session of hers when a generated DELETE /api/v1/session ended it."""
        if self.runtime.sessions.resolve(self.session.cookies[OPERATOR_COOKIE], kind="operator") is None:
            token, csrf = self.runtime.sessions.start(
                kind="operator",
                subject=str(self.olena.id),
                key=self.olena.unlocked.private_key,
                idle_seconds=600,
                label=f"{self.olena.role.value}:{self.olena.username}",
            )
            self.session = Caller("olena", {OPERATOR_COOKIE: token}, {"X-CSRF-Token": csrf}, csrf)
        return {
            "Cookie": f"{OPERATOR_COOKIE}={self.session.cookies[OPERATOR_COOKIE]}",
            **self.session.headers,
        }


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    app = module_app(data_dir)
    runtime: Runtime = app.state.runtime
    people = make_organisation(runtime).by_username()
    # No lifespan here: schemathesis starts the app's lifespan for its own calls.
    client = TestClient(app, base_url="https://testserver")
    headers = api_login(client, people["olena"])
    session = Caller(
        "olena", {OPERATOR_COOKIE: client.cookies[OPERATOR_COOKIE]}, headers, headers["X-CSRF-Token"]
    )
    case = seal_case_for(runtime, "intake", "Please help")
    yield Fuzzed(app, runtime, people["olena"], session, case.case_id, case.receipt)
    shutdown_lifespans()
    runtime.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> OpenApiSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed.app)


def _operations() -> list[str]:
    """Every operation of the app's OpenAPI document, as "METHOD /path" (read at collection)."""
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(data_dir=Path(directory)))
        try:
            paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
        finally:
            app.state.runtime.close()
    return [f"{method.upper()} {path}" for path, methods in paths.items() for method in methods]


OPERATIONS = _operations()


def assert_answered_safely(response: Any) -> None:
    status = response.status_code
    text = response.text
    assert status < 500, f"{status}: {text[:500]}"
    for sign in TRACEBACK_SIGNS:
        assert sign not in text, text[:500]
    if 400 <= status < 500:
        content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])[0]
        assert content_type.startswith(PROBLEM), f"{status} {content_type}: {text[:500]}"
        detail = response.json().get("detail")
        assert isinstance(detail, str), text[:500]
        assert detail


BUDGET = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=DEADLINE,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def catalogue_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Request bodies that pass the questionnaire, with any message: the fuzzer reaches sealing and storing
    (the schema's own strategies cover wrong types, languages and answers)."""
    catalogue = default_catalogue()

    def of_type(type_id: str) -> st.SearchStrategy[dict[str, Any]]:
        answers = {
            q.id: st.sampled_from([o.id for o in q.options]) for q in catalogue.types[type_id].questions
        }
        return st.fixed_dictionaries(
            {
                "type": st.just(type_id),
                "language": st.sampled_from(LANGUAGES),
                "answers": st.fixed_dictionaries(answers),
                "message": st.text(max_size=400),
            }
        )

    return st.sampled_from(sorted(catalogue.types)).flatmap(of_type)


def inputs(api_schema: OpenApiSchema, fuzzed: Fuzzed, method: str, path: str) -> st.SearchStrategy[Any]:
    """Valid and invalid requests from the schema, and some with real parts (a case id, a receipt, a
    request type) so that generated input also gets past the first check."""
    operation = api_schema[path][method]
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if "{case_id}" in path:
        strategies.append(operation.as_strategy(path_parameters={"case_id": fuzzed.case_id}))
    if path.startswith("/api/v1/requests/me"):
        strategies.append(operation.as_strategy(headers={"Authorization": f"Receipt {fuzzed.receipt}"}))
    if (method, path) == ("POST", "/api/v1/requests"):
        strategies.append(catalogue_requests().map(lambda body: operation.Case(body=body)))
    return st.one_of(strategies)


@pytest.mark.parametrize("caller", ["nobody", "an operator"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_any_input_gets_a_safe_answer(
    api_schema: OpenApiSchema, fuzzed: Fuzzed, operation: str, caller: str
) -> None:
    method, path = operation.split(" ", 1)

    @BUDGET
    @given(case=inputs(api_schema, fuzzed, method, path))
    def answers_safely(case: Any) -> None:
        credentials = fuzzed.operator_headers() if caller == "an operator" else {}
        assert_answered_safely(case.call(headers=credentials))

    answers_safely()


def test_the_server_still_answers_afterwards(api_schema: OpenApiSchema, fuzzed: Fuzzed) -> None:
    request = {
        "type": "legal",
        "language": "en",
        "answers": {"danger_now": "no", "topic": "other"},
        "message": "Still there?",
    }
    submitted = api_schema["/api/v1/requests"]["POST"].Case(body=request).call()
    assert submitted.status_code == 201, submitted.text
    receipt = submitted.json()["receipt"]
    thread = (
        api_schema["/api/v1/requests/me"]["GET"].Case().call(headers={"Authorization": f"Receipt {receipt}"})
    )
    assert thread.status_code == 200, thread.text
    queue = api_schema["/api/v1/cases"]["GET"].Case().call(headers=fuzzed.operator_headers())
    assert queue.status_code == 200, queue.text
    assert queue.json()
