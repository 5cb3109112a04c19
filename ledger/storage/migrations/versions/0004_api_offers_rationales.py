"""the HTTP API: certificate offers awaiting anchoring, published ruling rationales (docs/api.md)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_certificate_offers',
    sa.Column('certificate_id', sa.LargeBinary(length=32), nullable=False,
              comment="the record's id (EIP-712 struct hash)"),
    sa.Column('issuer', sa.LargeBinary(length=20), nullable=False),
    sa.Column('merchant', sa.LargeBinary(length=20), nullable=False),
    sa.Column('product_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=False, comment='the record as JSON (docs/api.md)'),
    sa.Column('nonce', sa.String(length=78), nullable=False, comment="the issuer's offer nonce, decimal"),
    sa.Column('deadline', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=65), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('certificate_id', name=op.f('pk_api_certificate_offers'))
    )
    for column in ('issuer', 'merchant', 'product_id'):
        op.create_index(op.f(f'ix_api_certificate_offers_{column}'), 'api_certificate_offers', [column],
                        unique=False)
    op.create_table('api_rationales',
    sa.Column('dispute_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('rationale_hash', sa.LargeBinary(length=32), nullable=False, comment='keccak256 of the UTF-8 text'),
    sa.Column('text', sa.Text(), nullable=False, comment="public: a ruling's published reasons"),
    sa.Column('published_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id', 'rationale_hash', name=op.f('pk_api_rationales'))
    )


def downgrade() -> None:
    op.drop_table('api_rationales')
    for column in ('issuer', 'merchant', 'product_id'):
        op.drop_index(op.f(f'ix_api_certificate_offers_{column}'), table_name='api_certificate_offers')
    op.drop_table('api_certificate_offers')
