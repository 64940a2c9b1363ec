"""Whatever a person types or pastes into any field of any form on the pages, the answer is a page that
says what is wrong (or the change), never a 500. The forms are read from the pages themselves, so a form
added later is covered without touching this file."""
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import login, update
from tests.evidence import upsert

ODD = ["", " ", "2147483648", "-1", "٣", "²", "31/12/2026", "2026-02-30", "9999-12-31", "0", "1e309", "NaN",
       "<script>alert(1)</script>", "a NUL \x00 inside", "ü" * 300, "x" * 6000, "http://[::1", "javascript:x"]
# What a person would type into the fields a page leaves empty, so that a changed field is the only odd one.
TYPED = {"name": "Odd Co office", "client": "Odd Co", "address": "1 Odd Street", "move_in": "2027-03-01",
         "rooms": "Reception\nComms room", "email": "someone@example.com", "password": "correct-horse-1",
         "serial": "SN-ODD", "mac": "00-11-22-33-44-66", "make": "Ubiquiti", "model": "U6", "note": "Checked",
         "due": "2027-02-01", "site_url": "https://hooks.example.com/a", "client_url": "https://hooks.example.com/b"}
SKIPPED = ("/logout", "/active")  # signing out, or an admin switching people off, ends the sessions used here


class FormReader(HTMLParser):
    """Every POST form on a page: where it goes and what a browser sends if nobody touches it."""

    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url, self.forms, self._form, self._select = url, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            post = (a.get("method") or "get").lower() == "post"
            self._form = {"action": a.get("action") or self.url, "fields": {}} if post else None
            if post:
                self.forms.append(self._form)
            return
        if self._form is None:
            return
        fields, name = self._form["fields"], a.get("name")
        if tag == "option" and self._select and (fields[self._select] is None or "selected" in a):
            fields[self._select] = a.get("value", "")
        elif not name:
            return
        elif tag == "input" and a.get("type") not in ("submit", "button", "file", "reset"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                fields[name] = a.get("value") or ""
        elif tag == "textarea" or (tag == "button" and name not in fields):
            fields[name] = a.get("value") or ""
        elif tag == "select":
            self._select = name
            fields.setdefault(name, None)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_on(client, url: str) -> list[tuple]:
    page = client.get(url, follow_redirects=True)
    assert page.status_code == 200, url
    reader = FormReader(url)
    reader.feed(page.get_data(as_text=True))
    return [(client, form["action"], {k: v or TYPED.get(k, "") for k, v in form["fields"].items()}) for form in reader.forms
            if not form["action"].endswith(SKIPPED)]


@pytest.fixture
def forms(app, api, people, site, bundle):
    """The forms a PM, an admin, a client and a stranger see, on a site with a dispute and an asset."""
    item = bundle["items"][0]
    api["tech"].sync([update(item, {"status": "pass"})], device="phone-a")
    api["pm"].sync([update(item, {"status": "fail"})], device="tablet-b")
    asset = upsert(site["id"], kind="ap", serial="SN-1", mac="00:11:22:33:44:55")
    assert api["tech"].sync([asset]).get_json()["acks"][0]["status"] == "applied"
    clients = {name: app.test_client() for name in ("pm", "admin", "client", "stranger")}
    for name in ("pm", "admin", "client"):
        login(clients[name], f"{name}@example.com")
    found = forms_on(clients["stranger"], "/login") + forms_on(clients["admin"], "/admin/")
    for url in ("/", "/sites/new", f"/sites/{site['id']}", f"/sites/{site['id']}/assets/new",
                f"/sites/{site['id']}/assets/{asset['asset_id']}/edit"):
        found += forms_on(clients["pm"], url)
    found += forms_on(clients["client"], f"/sites/{site['id']}")
    actions = {action for _, action, _ in found}
    assert {"/login", "/sites/new", f"/sites/{site['id']}/items/{item['id']}/resolve",
            f"/sites/{site['id']}/webhooks", f"/sites/{site['id']}/items/{item['id']}/due"} <= actions, actions
    # One form of each kind: the site page has a due-date form per item, and they are all alike.
    kinds = {}
    for form in found:
        kinds.setdefault((form[0], re.sub(r"/items/\d+/", "/items/N/", form[1])), form)
    return list(kinds.values())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_text_in_any_field_of_any_form_gets_a_page_not_a_500(forms, data):
    client, action, fields = data.draw(st.sampled_from(forms))
    name = data.draw(st.sampled_from(sorted(fields)))
    value = None if data.draw(st.integers(0, 9)) == 0 else data.draw(st.sampled_from(ODD) | st.text(max_size=60))
    sent = {k: v for k, v in fields.items() if k != name} if value is None else {**fields, name: value}
    response = client.post(action, data=sent)
    assert response.status_code < 500, (action, name, value, response.get_data(as_text=True)[:500])
    if response.status_code >= 400:
        assert "<html" in response.get_data(as_text=True).lower()
