"""leases: work that exactly one replica does at a time, with takeover (ledger/storage/lease.py)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leases',
    sa.Column('name', sa.String(length=64), nullable=False, comment='what the lease is for, e.g. checkpointer'),
    sa.Column('holder', sa.String(length=100), nullable=False, comment='the process holding it'),
    sa.Column('until_ms', sa.BigInteger(), nullable=False, comment='held until then unless renewed'),
    sa.Column('epoch', sa.BigInteger(), nullable=False,
              comment='incremented each time the lease changes holder'),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )


def downgrade() -> None:
    op.drop_table('leases')
