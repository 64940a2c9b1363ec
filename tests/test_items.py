"""A PM's edits on the site page are the PM's own: kept in the item's history, with no device and no sync."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from fieldkit import dates
from fieldkit.db import db
from fieldkit.models import ItemEvent, Mutation, User
from tests.conftest import login, update
from tests.test_pages import csrf


@pytest.fixture
def history(app):
    """history(item_id): the item's changes as (kind, who, device, mutation id, changes), oldest first."""
    def read(item_id):
        with app.app_context():
            rows = db.session.execute(select(ItemEvent, User.email).join(User, User.id == ItemEvent.user_id)
                                      .where(ItemEvent.item_id == item_id).order_by(ItemEvent.rev)).all()
            return [(e.kind, email, e.device_id, e.mutation_id, e.changes) for e, email in rows]
    return read


def move_date(client, site, item, rev, due):
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    return client.post(f"/sites/{site['id']}/items/{item['id']}/due",
                       data={"csrf_token": csrf(page), "due": due, "rev": rev}, follow_redirects=True)


def circuit_of(bundle):
    return next(i for i in bundle["items"] if i["key"] == "isp-circuit-live")


def test_a_pm_moving_a_date_on_the_web_is_the_pms_edit_not_a_device_sync(app, client, api, site, bundle, history):
    api["tech"].sync([], device="phone-1")  # the technician's phone synced this site
    circuit = circuit_of(bundle)
    late = (date.today() + timedelta(days=25)).isoformat()
    login(client, "pm@example.com")
    answer = move_date(client, site, circuit, circuit["rev"], late)
    assert f"Date moved to {dates.day(late, year=date.today().year)}." in answer.get_data(as_text=True)

    board = {row["site_id"]: row for row in api["pm"].get("/api/board").get_json()}
    assert set(board[site["id"]]["last_sync"]) == {"tech@example.com"}
    assert history(circuit["id"]) == [("update", "pm@example.com", None, None, {"due": [circuit["due"], late]})]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Mutation)).scalar_one() == 0
    moved = next(i for i in api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]
                 if i["id"] == circuit["id"])
    assert (moved["due"], moved["rev"]) == (late, circuit["rev"] + 1)
    assert api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()["status"] == "NO_GO"


def test_a_date_moved_on_a_stale_revision_still_moves_and_is_kept_as_a_conflict(client, api, site, bundle, history):
    circuit = circuit_of(bundle)
    assert api["tech"].sync([update(circuit, {"note": "ISP booked"})]).get_json()["acks"][0]["status"] == "applied"
    later = (date.today() + timedelta(days=12)).isoformat()
    login(client, "pm@example.com")
    answer = move_date(client, site, circuit, circuit["rev"], later)  # the page was opened before the phone synced
    assert f"Date moved to {dates.day(later, year=date.today().year)}." in answer.get_data(as_text=True)
    assert [(kind, who, device) for kind, who, device, _, _ in history(circuit["id"])] == [
        ("update", "tech@example.com", "phone-1"), ("conflict", "pm@example.com", None)]
    # Moved again from the page as it is now (the revision after both changes): a plain update.
    again = move_date(client, site, circuit, circuit["rev"] + 2, (date.today() + timedelta(days=14)).isoformat())
    assert "Date moved to" in again.get_data(as_text=True)
    assert history(circuit["id"])[-1][0] == "update"


@pytest.mark.parametrize(("item_id", "rev", "message"), [
    (99999, 1, "There is no item 99999."),
    (None, 2**40, "'base_rev' must be the item's revision the change was made on."),
])
def test_a_date_move_that_cannot_apply_says_why_and_changes_nothing(client, site, bundle, history, item_id, rev,
                                                                   message):
    circuit = circuit_of(bundle)
    login(client, "pm@example.com")
    answer = move_date(client, site, {"id": item_id or circuit["id"]}, rev, "2030-01-10")
    assert message in answer.get_data(as_text=True).replace("&#39;", "'")
    assert history(circuit["id"]) == []
