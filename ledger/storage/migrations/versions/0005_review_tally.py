"""the review tally: per-merchant star counts under each verified anchored checkpoint (ledger/tally.py)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tally_state',
    sa.Column('state_id', sa.SmallInteger(), autoincrement=False, nullable=False, comment='always 1'),
    sa.Column('tree_size', sa.BigInteger(), nullable=False,
              comment="leaves tallied: the last verified checkpoint's size"),
    sa.Column('frontier', sa.LargeBinary(), nullable=False,
              comment='compact range of those leaves (merkle.CompactRange)'),
    sa.Column('stalled_at', sa.BigInteger(), nullable=True,
              comment='first leaf the tally could not count; NULL if none'),
    sa.Column('stall_reason', sa.Text(), nullable=True),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('state_id', name=op.f('pk_tally_state'))
    )
    op.create_table('tally_checkpoints',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_tally_checkpoints'))
    )
    op.create_table('tally_merchants',
    sa.Column('merchant', sa.LargeBinary(length=20), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    *(sa.Column(f'stars_{n}', sa.BigInteger(), nullable=False, comment=f'{n}-star leaves of the merchant below tree_size')
      for n in range(1, 6)),
    sa.PrimaryKeyConstraint('merchant', 'tree_size', name=op.f('pk_tally_merchants'))
    )


def downgrade() -> None:
    op.drop_table('tally_merchants')
    op.drop_table('tally_checkpoints')
    op.drop_table('tally_state')
