"""the HTTP API: responses kept for Idempotency-Key retries (docs/api.md)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_idempotency',
    sa.Column('key', sa.String(length=255), nullable=False, comment="the client's Idempotency-Key header"),
    sa.Column('request_hash', sa.LargeBinary(length=32), nullable=False,
              comment='SHA-256 of method, path, query and body: the same key with another request is refused'),
    sa.Column('status', sa.SmallInteger(), nullable=False,
              comment='0 while the first request runs, then its HTTP status'),
    sa.Column('content_type', sa.String(length=255), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_api_idempotency'))
    )
    op.create_index(op.f('ix_api_idempotency_expires_ms'), 'api_idempotency', ['expires_ms'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_api_idempotency_expires_ms'), table_name='api_idempotency')
    op.drop_table('api_idempotency')
