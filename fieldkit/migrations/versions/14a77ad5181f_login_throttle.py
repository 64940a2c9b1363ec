"""login throttle: wrong passwords in a row per email

Revision ID: 14a77ad5181f
Revises: 763b346aa191
Create Date: 2026-11-27 00:05:33.636899

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '14a77ad5181f'
down_revision = '763b346aa191'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_throttle',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_login_throttle'))
    )


def downgrade():
    op.drop_table('login_throttle')
