"""api_attestations: the one purchase attestation signed per order (its digest), so the service never attests
an order twice with different terms (api/routes/purchases.py)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_attestations',
    sa.Column('order_commitment', sa.LargeBinary(length=32), nullable=False),
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False,
              comment='the EIP-712 digest signed for that order'),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('order_commitment', name=op.f('pk_api_attestations'))
    )


def downgrade() -> None:
    op.drop_table('api_attestations')
