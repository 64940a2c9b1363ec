"""mend lone surrogates kept in JSON columns before they were refused

Earlier versions took JSON such as a measurement named "\\ud800" and kept it escaped in a JSON column (both
SQLite and PostgreSQL's json accept the escape); read back, it is no text, and every page or sign-off that
encodes it answered 500. Each such character becomes U+FFFD (the replacement character); valid pairs,
which json writes as two escapes, are untouched.

Revision ID: 5b0e2d9c41a7
Revises: 3822468b79ce
Create Date: 2026-12-01 19:10:00

"""
import json

import sqlalchemy as sa
from alembic import op

revision = '5b0e2d9c41a7'
down_revision = '3822468b79ce'
branch_labels = None
depends_on = None

# (table, primary key, JSON columns): every JSON column that text from a phone, a script or a PM reaches.
COLUMNS = (
    ("site", "id", ("rooms", "readiness")),
    ("item", "id", ("measurements", "thresholds")),
    ("item_event", "id", ("changes",)),
    ("asset_event", "id", ("changes",)),
    ("photo", "id", ("response",)),
    ("webhook_delivery", "id", ("payload", "attempts")),
)


def mended(value):
    """`value` with each lone surrogate in its texts (keys too) replaced by U+FFFD.

    json.loads joins a valid pair into one character, so any surrogate left in a text is a lone one."""
    if isinstance(value, str):
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in value)
    if isinstance(value, dict):
        return {mended(key): mended(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mended(item) for item in value]
    return value


def upgrade():
    conn = op.get_bind()
    new_value = "CAST(:value AS json)" if conn.dialect.name == "postgresql" else ":value"
    for table, key, columns in COLUMNS:
        for column in columns:
            # Only rows whose JSON text holds a \ud... escape can hold a lone surrogate.
            rows = conn.execute(sa.text(
                f'SELECT "{key}", CAST("{column}" AS TEXT) FROM "{table}" '
                f"WHERE lower(CAST(\"{column}\" AS TEXT)) LIKE '%\\ud%' ESCAPE '!'")).all()
            for row_id, text in rows:
                value = json.loads(text)
                fixed = mended(value)
                if fixed != value:
                    conn.execute(sa.text(f'UPDATE "{table}" SET "{column}" = {new_value} WHERE "{key}" = :id'),
                                 {"value": json.dumps(fixed), "id": row_id})


def downgrade():
    pass  # the replaced characters were never text: there is nothing to put back
