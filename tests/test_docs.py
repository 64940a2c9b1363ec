"""README states the limits a person or a script can hit: each number there is the one the code uses."""
from pathlib import Path

import pytest

from fieldkit import accounts, config, dates, handover, inventory, photos, signoff, sites, sync
from fieldkit.access import MAX_ID
from fieldkit.web import auth
from fieldkit.web.api import blueprint as api

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
LIMITS = README.split("## Limits", 1)[1].split("\n## ", 1)[0]


def row(what: str) -> str:
    return next(line for line in LIMITS.splitlines() if line.startswith(f"| {what} |"))


@pytest.mark.parametrize(("what", "numbers"), [
    ("any request body", [f"{config.load('.', {'SECRET_KEY': 'x'})['MAX_CONTENT_LENGTH'] // config.MiB} MiB"]),
    ("JSON", [f"{api.MAX_DEPTH} levels"]),
    ("sync batch", [f"{sync.MAX_BATCH:,} mutations"]),
    ("one mutation", [f"{sync.MAX_MUTATION_BYTES // 1024} KiB"]),
    ("item note", [f"{sync.NOTE_LIMIT:,} characters"]),
    ("measurements", [f"{sync.MAX_MEASUREMENTS} per item", f"1 to {sync.MEASUREMENT_NAME_LIMIT} characters",
                      f"{sync.MEASUREMENT_LIMIT:,.0f}"]),
    ("ids and revisions", [f"{MAX_ID:,}"]),
    ("site", [f"{sites.MAX_ROOMS} rooms", f"{dates.FIRST_DAY.year} to {dates.LAST_DAY.year}"]),
    ("assets", [f"{inventory.MAX_ASSETS_PER_SITE:,} per site", f"{inventory.TEXT_LIMIT} characters"]),
    ("CSV import", [f"{inventory.MAX_CSV_BYTES // 2**20} MiB", f"{inventory.MAX_CSV_ROWS:,} rows",
                    f"{inventory.MAX_CSV_COLUMNS} columns", f"{inventory.CSV_CELL_LIMIT:,} characters"]),
    ("photos", [f"{photos.MAX_PIXELS // 1_000_000} million pixels", f"decodes {photos.DECODES_AT_ONCE} at once",
                f"at most {photos.MAX_STORED_SIDE:,} px", f"{photos.MAX_PHOTOS_PER_SITE:,} per site",
                f"up to {photos.DECODE_WAIT:.0f} s"]),
    ("sign-off", [f"{signoff.SIGNATURE_MAX_BYTES // 1024} KB", f"{signoff.MAX_ACCEPT:,} accepted"]),
    ("API tokens", [f"1 to {accounts.MAX_TOKEN_DAYS:,} days", f"{accounts.TOKEN_DAYS} unless"]),
    ("handover pack", [f"first {handover.NOTE_CHARS:,} characters"]),
])
def test_readme_states_each_limit_as_the_code_has_it(what, numbers):
    for number in numbers:
        assert number in row(what), (what, number)


def test_readme_states_the_sign_in_limits_the_app_applies():
    stated = row("signing in")
    words = {"minute": "a minute", "hour": "an hour"}
    for limits in auth.LOGIN_LIMITS.values():
        for limit in limits.split(";"):
            count, per = limit.split("/")
            assert f"{count} {words[per]}" in stated, limit
