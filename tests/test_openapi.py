"""The API's OpenAPI description is complete, valid OpenAPI 3.1 and true: every JSON route is in it with its
methods, the answers of a normal session match it field for field, and docs/API.md names every path."""
import copy
import io
import re
import uuid
from pathlib import Path

import jsonschema_rs
import pytest
import schemathesis
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from fieldkit import dates, sync
from fieldkit.web import openapi
from tests.conftest import login, update
from tests.evidence import add_asset, encoded, photo_like, upload
from tests.test_signoff import SIGNATURE

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "API.md").read_text()
METHODS = {"get", "put", "post", "delete", "patch"}


def template(path: str) -> str:
    """/api/sites/{site_id} and /api/sites/<int:site_id> both as /api/sites/{}: names of parts may differ."""
    return re.sub(r"<[^>]*>", "{}", re.sub(r"\{[^}]*\}", "{}", path))


def described(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), template(path)) for path, item in spec["paths"].items() for method in item
            if method in METHODS}


@pytest.fixture
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


# --------------------------------------------------------------------------- (a) every JSON route, and only those


def test_every_api_route_is_described_with_its_methods_and_every_described_path_exists(app, spec):
    routes = {(method, template(rule.rule)) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - described(spec) == set(), "describe these routes in fieldkit/web/openapi.py"
    assert described(spec) - routes == set(), "the description names routes the app does not have"


def test_no_page_outside_the_api_answers_json(app, api, site, spec):
    """A JSON route added outside /api must be described too: no GET page a PM can open answers JSON."""
    opened = 0
    for rule in app.url_map.iter_rules():
        parts = re.findall(r"<([^>]*)>", rule.rule)
        if rule.rule.startswith("/api/") or "GET" not in rule.methods or rule.endpoint == "static" \
                or not all(part.startswith("int:") for part in parts):
            continue  # a path part that is not an id (a tag, a file name) has no value to try
        response = api["pm"].get(re.sub(r"<[^>]*>", str(site["id"]), rule.rule))
        opened += 1
        assert response.mimetype != "application/json" or ("GET", template(rule.rule)) in described(spec), rule
    assert opened > 10


# --------------------------------------------------------------------------- (b) valid OpenAPI 3.1, served publicly


def schemas_in(value):
    """Every JSON Schema in the description: components' schemas and those inline in paths."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "schema" or (key == "schemas" and isinstance(child, dict)):
                yield from (child.values() if key == "schemas" else [child])
            else:
                yield from schemas_in(child)
    elif isinstance(value, list):
        for child in value:
            yield from schemas_in(child)


def refs_in(value):
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"]
        for child in value.values():
            yield from refs_in(child)
    elif isinstance(value, list):
        for child in value:
            yield from refs_in(child)


def test_the_description_is_valid_openapi_3_1_with_valid_schemas_and_references(spec):
    OPENAPI_31_VALIDATOR.validate(spec)
    found = list(schemas_in(spec))
    assert len(found) > 40
    for schema in found:
        jsonschema_rs.meta.validate(schema)  # JSON Schema 2020-12, OpenAPI 3.1's dialect
    for target in set(refs_in(spec)):
        node = spec
        for part in target.removeprefix("#/").split("/"):
            assert part in node, target
            node = node[part]
    loaded = schemathesis.openapi.from_dict(spec)
    assert sum(1 for _ in loaded.get_all_operations()) == len(described(spec))


def test_every_operation_has_a_summary_roles_a_tag_and_error_answers(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert operation["summary"] and operation["tags"][0] in (openapi.CONTRACT, openapi.EXTENSION), path
            if operation["security"]:
                assert operation["description"].startswith("Who: "), path
                assert {"400", "401"} <= set(operation["responses"]), (method, path)


def test_the_description_is_public_and_cacheable(client, spec):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.cache_control.public and response.cache_control.max_age >= 600
    again = client.get("/api/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert spec["openapi"] == "3.1.0" and "/api/openapi.json" in spec["paths"]


def test_the_description_quotes_the_codes_limits_and_templates(app, spec):
    body = spec["components"]["schemas"]["SyncRequest"]["properties"]["mutations"]
    assert body["maxItems"] == sync.MAX_BATCH
    assert spec["components"]["schemas"]["NewSite"]["properties"]["template"]["enum"] == \
        sorted(app.extensions["templates"])
    assert f"{app.config['MAX_CONTENT_LENGTH'] // 2**20} MiB" in spec["components"]["responses"]["TooLarge"][
        "description"]
    day = spec["components"]["schemas"]["NewSite"]["properties"]["move_in"]["pattern"]
    assert [year for year in range(1900, 2200) if re.match(day, f"{year}-01-01")] == \
        list(range(dates.FIRST_DAY.year, dates.LAST_DAY.year + 1))


# --------------------------------------------------------------------------- (c) real answers match, field for field


def strict(spec: dict) -> dict:
    """The description with every described object closed: a field the code sends but the description
    does not name fails here (clients may still get more fields: the contract allows extending)."""
    closed = copy.deepcopy(spec)

    def close(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for child in node.values():
                close(child)
        elif isinstance(node, list):
            for child in node:
                close(child)

    close(closed["components"])
    close(closed["paths"])
    return closed


class Conformance:
    """Checks each answer against the operation its request reached: a documented status, a documented
    content type, and a body that matches the (closed) schema."""

    def __init__(self, spec: dict):
        self.spec, self.loaded = spec, schemathesis.openapi.from_dict(strict(spec))
        self.checked: set[tuple[str, str]] = set()

    def path_of(self, url: str) -> str:
        for path in self.spec["paths"]:
            pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path))
            if re.fullmatch(pattern, url.split("?")[0]):
                return path
        raise AssertionError(f"{url} is not in the description")

    def __call__(self, response, status: int):
        method, path = response.request.method, self.path_of(response.request.path)
        assert response.status_code == status, (method, path, response.get_data(as_text=True)[:500])
        answers = self.spec["paths"][path][method.lower()]["responses"]
        answer = answers.get(str(status))
        assert answer is not None, f"{method} {path} answered {status}, which the description does not list"
        answer = self.resolve(answer)
        if response.data:
            assert response.mimetype in answer.get("content", {}), (method, path, response.mimetype)
        self.loaded[path][method].validate_response(response)
        self.checked.add((method, template(path)))
        response.close()  # a sent file stays open until its answer is closed
        return response

    def resolve(self, answer: dict) -> dict:
        if "$ref" in answer:
            return self.spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        return answer


@pytest.fixture
def conforms(spec):
    return Conformance(spec)


def test_a_normal_working_session_answers_as_described(app, api, people, site, conforms):
    """A PM sets up a site and a token, a technician works offline and syncs, uploads photos and imports a
    delivery list, a PM resolves a dispute, the client signs off; each answer is checked, errors too."""
    pm, tech, client = api["pm"], api["tech"], api["client"]
    anonymous = app.test_client()
    site_id = site["id"]
    conforms(anonymous.get("/api/sites"), 401)
    conforms(pm.get("/api/templates"), 200)
    made = conforms(pm.post("/api/sites", {"name": "Zenith Legal HQ", "client": "Zenith Legal",
                                           "move_in": "2030-01-31", "template": "office-move",
                                           "technicians": ["tech2@example.com"]}), 201).get_json()
    conforms(pm.post("/api/sites", {"name": "No date", "client": "Acme Dental", "template": "office-move"}), 400)
    conforms(pm.client.post("/api/sites", data="{", headers={**pm.headers, "Content-Type": "application/json"}),
             400)
    conforms(tech.post("/api/sites", {"name": "x"}), 403)
    conforms(pm.get("/api/sites"), 200)
    conforms(pm.get(f"/api/sites/{site_id}"), 200)
    conforms(api["other_client"].get(f"/api/sites/{site_id}"), 404)
    conforms(pm.get(f"/api/sites/{site_id}/readiness"), 200)
    conforms(pm.get("/api/board"), 200)
    conforms(tech.get("/api/board"), 403)
    conforms(client.get(f"/api/sites/{site_id}/bundle"), 403)
    conforms(tech.get(f"/api/sites/{made['id']}/bundle"), 404)

    # The technician works: items, a dispute with a second technician, assets, photos.
    bundle = conforms(tech.get(f"/api/sites/{site_id}/bundle"), 200).get_json()
    item = next(i for i in bundle["items"] if i["photos_required"] == 0 and not i["thresholds"])
    measured = next(i for i in bundle["items"] if i["thresholds"])
    name = next(iter(measured["thresholds"]))
    first = update(item, {"status": "pass", "note": "Checked."})
    answer = conforms(tech.sync([first, update(measured, {"measurements": {name: 700}}),
                                 update(item, {"status": "maybe"}), {"id": "not-a-uuid"}]), 200).get_json()
    assert [ack["status"] for ack in answer["acks"]] == ["applied", "applied", "rejected", "rejected"]
    conforms(tech.sync([first], cursor=answer["cursor"]), 200)
    conforms(pm.sync([update(item, {"status": "fail", "note": "Not working."})], device="pm-laptop"), 200)
    conforms(client.sync([]), 403)
    conforms(tech.post("/api/sync", {"mutations": []}), 400)
    disputed = next(i for i in conforms(pm.sync([]), 200).get_json()["changes"]
                    if i["type"] == "item" and i["data"]["disputed"])
    conforms(tech.post(f"/api/items/{disputed['id']}/resolve", {"status": "pass"}), 403)
    conforms(pm.post(f"/api/items/{disputed['id']}/resolve", {"status": "pass", "note": "Retested."}), 200)
    conforms(pm.post(f"/api/items/{disputed['id']}/resolve", {"status": "pass"}), 400)
    conforms(pm.post("/api/items/2147483647/resolve", {"status": "pass"}), 404)

    asset = add_asset(api, site, kind="ap", room="Reception", serial="AP-1")
    conforms(tech.get(f"/api/sites/{site_id}/assets"), 200)
    conforms(tech.get(f"/api/assets/{asset['tag']}"), 200)
    conforms(tech.get("/api/assets/NOT-A-TAG"), 404)
    conforms(pm.get(f"/api/sites/{site_id}/assets.csv"), 200)
    csv_url = f"/api/sites/{site_id}/assets.csv"
    conforms(pm.client.post(csv_url, data="kind,serial,room\nswitch,SW-1,Comms room\nkettle,K-1,Reception\n",
                            headers=pm.headers, content_type="text/csv"), 200)
    conforms(pm.client.post(csv_url, data={"file": (io.BytesIO(b"kind\n"), "list.csv")}, headers=pm.headers,
                            content_type="multipart/form-data"), 400)
    conforms(tech.client.post(csv_url, data="kind\nap\n", headers=tech.headers, content_type="text/csv"), 403)

    photo_id, jpeg = str(uuid.uuid4()), encoded(photo_like(800, 600))
    conforms(upload(api, "tech", site_id, jpeg, photo_id, item_id=item["id"], asset_id=asset["id"]), 201)
    conforms(upload(api, "tech", site_id, jpeg, photo_id, item_id=item["id"]), 200)
    conforms(upload(api, "tech", site_id, encoded(photo_like(640, 480)), photo_id), 409)
    conforms(upload(api, "tech", site_id, b"GIF89a not a photo", filename="x.gif"), 415)
    conforms(upload(api, "tech", site_id, jpeg, "not-a-uuid"), 400)
    conforms(upload(api, "client", site_id, jpeg), 403)
    served = conforms(tech.get(f"/api/photos/{photo_id}"), 200)
    conforms(tech.get(f"/api/photos/{photo_id}/thumb"), 200)
    conforms(tech.client.get(f"/api/photos/{photo_id}", headers={**tech.headers, "If-None-Match": served.headers["ETag"]}),
             304)
    conforms(api["other_client"].get(f"/api/photos/{photo_id}"), 404)

    # The client signs off, accepting every open item.
    state = conforms(client.get(f"/api/sites/{site_id}/signoff"), 200).get_json()
    accept = [e["item_id"] for e in state["exceptions"]]
    conforms(client.post(f"/api/sites/{site_id}/signoff", {"name": "Ann Client", "signature": SIGNATURE}), 400)
    conforms(pm.post(f"/api/sites/{site_id}/signoff", {"name": "P M", "signature": SIGNATURE, "accept": accept}),
             403)
    signed = conforms(client.post(f"/api/sites/{site_id}/signoff",
                                  {"name": "Ann Client", "signature": SIGNATURE, "accept": accept}), 201).get_json()
    conforms(client.get(f"/api/sites/{site_id}/signoff"), 200)
    conforms(client.get(f"/api/signoffs/{signed['id']}/verify"), 200)
    conforms(api["other_client"].get(f"/api/signoffs/{signed['id']}/verify"), 404)
    conforms(pm.get(f"/api/sites/{site_id}"), 200)

    # Tokens: made from a signed-in browser with its CSRF header, listed, revoked both ways.
    browser = app.test_client()
    login(browser, "pm@example.com")
    me = conforms(browser.get("/api/me"), 200).get_json()
    csrf = {"X-CSRFToken": me["csrf_token"]}
    conforms(browser.post("/api/tokens", json={"label": "van tablet"}), 400)  # no CSRF header
    made = conforms(browser.post("/api/tokens", json={"label": "van tablet", "days": 30}, headers=csrf), 201)
    conforms(browser.post("/api/tokens", json={"days": 0}, headers=csrf), 400)
    conforms(browser.post("/api/tokens", json={"email": "tech@example.com"}, headers=csrf), 403)
    conforms(pm.post("/api/tokens", {}), 403)
    conforms(browser.get("/api/tokens"), 200)
    token_id = made.get_json()["id"]
    conforms(browser.post(f"/api/tokens/{token_id}/revoke", headers=csrf), 200)
    conforms(browser.delete(f"/api/tokens/{token_id}", headers=csrf), 200)
    conforms(api["tech"].client.delete(f"/api/tokens/{token_id}", headers=tech.headers), 404)
    conforms(api["admin"].get("/api/tokens?email=pm@example.com"), 200)

    conforms(anonymous.get("/api/openapi.json"), 200)
    untried = described(conforms.spec) - conforms.checked
    assert untried == set(), "the session should reach every operation"


# --------------------------------------------------------------------------- (d) the doc names every path


MENTION = re.compile(r"\b((?:GET|POST|PUT|PATCH|DELETE)(?:/(?:GET|POST|PUT|PATCH|DELETE))*) (/[^\s`|,]+)"
                     r"(?: and (/[^\s`|,]+))?")


def mentions(text: str) -> set[tuple[str, str]]:
    """(method, path) named in a doc: 'GET /a', 'GET/POST /a' and 'GET /a and /a/b' name each pair."""
    found = set()
    for methods, *named in MENTION.findall(text):
        found |= {(method, template(path.rstrip(".:;)"))) for method in methods.split("/") for path in named if path}
    return found


def test_docs_api_md_names_every_described_path_in_its_part(spec):
    shared, extensions = DOC.split("\n# Part 2", 1)
    in_part = {openapi.CONTRACT: mentions(shared), openapi.EXTENSION: mentions(extensions)}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            tag = operation["tags"][0]
            assert (method.upper(), template(path)) in in_part[tag], \
                f"docs/API.md should name {method.upper()} {path} in its part for the {tag}"
    phantom = {(m, p) for m, p in in_part[openapi.EXTENSION] if p.startswith("/api/")} - described(spec)
    assert phantom == set(), "docs/API.md names FieldKit routes that the description (and the app) lack"


def test_readme_points_at_the_contract_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "docs/API.md" in readme and "../shared/API.md" not in readme


def test_the_limits_in_docs_api_md_are_readmes_which_are_the_codes():
    """tests/test_docs.py holds README's limits to the code's numbers; the API doc's rows must be README's."""
    readme = (ROOT / "README.md").read_text().split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in DOC.split("## Limits", 1)[1].split("\n## ", 1)[0].splitlines()
            if line.startswith("| ") and not line.startswith(("| what", "| ---"))]
    assert len(rows) > 10
    assert [row for row in rows if row not in readme.splitlines()] == []


def test_the_conformance_check_fails_on_a_field_or_a_type_the_description_does_not_have(api, spec):
    answer = api["pm"].get("/api/me")
    Conformance(spec)(answer, 200)
    hidden = copy.deepcopy(spec)
    del hidden["components"]["schemas"]["Me"]["properties"]["csrf_token"]
    hidden["components"]["schemas"]["Me"]["required"].remove("csrf_token")
    retyped = copy.deepcopy(spec)
    retyped["components"]["schemas"]["Me"]["properties"]["id"] = {"type": "string"}
    for wrong, words in ((hidden, "'csrf_token' was unexpected"), (retyped, "is not of type")):
        with pytest.raises(AssertionError, match=words):
            Conformance(wrong)(api["pm"].get("/api/me"), 200)


# --------------------------------------------------------------------------- where the code breaks the contract
# Each is written up in the findings (request, answer, cause, suggested fix); the fix is in a module others are
# changing, so the test is expected to fail until it lands, and then says so.


def test_every_bundle_item_carries_its_state_and_plain_reasons(api, bundle):
    states = {"ready", "not_ready", "failed", "disputed", "na"}
    for item in bundle["items"]:
        assert item["state"] in states, item["id"]
        assert all(isinstance(reason, str) for reason in item["reasons"]), item["id"]
        assert (item["reasons"] == []) == (item["state"] == "ready"), item["id"]


@pytest.mark.xfail(strict=True, reason="Contract v1.1: a client named in POST /api/sites matches an existing "
                                       "client ignoring case; accounts.get_or_create_client compares the exact name")
def test_a_client_named_in_another_case_is_the_same_client(api, site):
    again = api["pm"].post("/api/sites", {"name": "Second clinic", "client": "  ACME   dental ",
                                          "move_in": "2030-01-31", "template": "office-move"})
    assert again.status_code == 201 and again.get_json()["client"] == site["client"]


def test_room_names_alike_in_their_first_120_characters_are_one_room(api, conforms):
    made = api["pm"].post("/api/sites", {"name": "Long rooms", "client": "Acme Dental", "move_in": "2030-01-31",
                                         "template": "office-move", "rooms": ["R" * 130, "R" * 125]})
    conforms(made, 201)
