"""idx_events: the merchant, productId and issuer arguments as indexed columns, for the auditor's filters

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SUBJECTS = (("merchant", "merchant", 20), ("product_id", "productId", 32), ("issuer", "issuer", 20))


def upgrade() -> None:
    for column, argument, size in SUBJECTS:
        op.add_column('idx_events', sa.Column(column, sa.LargeBinary(length=size), nullable=True,
                                              comment=f"the event's {argument} argument, if it has one"))
    # events indexed before this migration: the same values, from their decoded arguments
    events = sa.table('idx_events', sa.column('block_hash'), sa.column('tx_hash'), sa.column('log_index'),
                      sa.column('args'), *(sa.column(c) for c, _, _ in SUBJECTS))
    conn = op.get_bind()
    rows = conn.execute(sa.select(events.c.block_hash, events.c.tx_hash, events.c.log_index, events.c.args)).all()
    for r in rows:
        args = json.loads(r.args)
        values = {c: bytes.fromhex(args[a][2:]) for c, a, size in SUBJECTS
                  if isinstance(args.get(a), str) and len(args[a]) == 2 + 2 * size}
        if values:
            conn.execute(events.update().where(events.c.block_hash == r.block_hash, events.c.tx_hash == r.tx_hash,
                                               events.c.log_index == r.log_index).values(**values))
    for column, _, _ in SUBJECTS:
        op.create_index(f'ix_idx_events_{column}', 'idx_events', [column, 'block_number', 'log_index'],
                        unique=False)


def downgrade() -> None:
    for column, _, _ in SUBJECTS:
        op.drop_index(f'ix_idx_events_{column}', table_name='idx_events')
        op.drop_column('idx_events', column)
