"""Schemathesis against the running app (gunicorn on the suite's database, emptied, with the demo data): every
operation of /api/openapi.json gets generated valid and invalid requests as a PM with a bearer token, and no
answer may be a 5xx or differ from the description (status, content type, headers, body).

Bounded and derandomized, so CI repeats the same requests; deselect with `-m "not fuzz"`.
"""
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fieldkit import accounts, create_app, demo
from fieldkit.db import db
from fieldkit.web import openapi
from tests import servers
from tests.conftest import _empty_tables

pytestmark = pytest.mark.fuzz
EXAMPLES = 25  # per operation and per mode (valid, invalid): about a thousand requests in all
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# Operations whose failure is known and written up in the findings (the fix is in a module being changed by
# others): each is expected to fail, and the test says so when it passes again.
FINDINGS: dict[tuple[str, str], str] = {}


@dataclass
class Live:
    url: str
    app: object
    schema: object
    http: requests.Session

    def token(self) -> str:
        """A fresh PM token for each operation, so one that revokes tokens cannot end the others' runs."""
        with self.app.app_context():
            token = accounts.create_token(db.session, "pm@example.com", label="fuzz")
            db.session.commit()
        return token



@pytest.fixture(scope="module")
def live(schema, tmp_path_factory):
    """gunicorn serving the app on a fresh copy of the demo; always stopped at the end."""
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": schema, "PHOTO_DIR": str(folder / "photos")})
    with app.app_context():
        _empty_tables()
        demo.load(db.session, app.extensions["templates"])
        db.session.commit()
        db.session.remove()
    try:
        with servers.gunicorn(schema, folder, workers=1, ready_path="/api/openapi.json",
                              secret="fuzz-test-secret") as (url, _), requests.Session() as http:
            yield Live(url, app, schemathesis.openapi.from_url(url + "/api/openapi.json"), http)
    finally:
        with app.app_context():
            db.engine.dispose()


DESCRIBED = openapi.describe()["paths"]
OPERATIONS = [
    pytest.param(method.upper(), path, id=f"{method.upper()} {path}",
                 marks=[pytest.mark.xfail(strict=True, reason=FINDINGS[(method.upper(), path)])]
                 if (method.upper(), path) in FINDINGS else [])
    for path, item in DESCRIBED.items() for method in item
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_requests_get_no_5xx_and_described_answers(live, method, path):
    operation = live.schema[path][method]
    headers = {"Authorization": f"Bearer {live.token()}"}
    described = DESCRIBED[path][method.lower()]
    negatable = "parameters" in described or "requestBody" in described  # else no request is invalid
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else (GenerationMode.POSITIVE,):
        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case):
            case.call_and_validate(base_url=live.url, session=live.http, headers=headers, checks=CHECKS, timeout=30)

        call()
