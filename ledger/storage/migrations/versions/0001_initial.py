"""initial schema: sender outbox, review log, content, checkpoints

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('log_checkpoints',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('outbox_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='pending | anchored | failed'),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('anchored_ms', sa.BigInteger(), nullable=True),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('block_number', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True, comment='why anchoring failed, for people'),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_log_checkpoints')),
    sa.UniqueConstraint('outbox_key', name=op.f('uq_log_checkpoints_outbox_key')),
    sa.UniqueConstraint('root', 'tree_size', name=op.f('uq_log_checkpoints_root_tree_size'))
    )
    op.create_table('log_leaves',
    sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('leaf', sa.LargeBinary(), nullable=False, comment='RFC 8785 canonical JSON: hashes and numbers only'),
    sa.Column('purchase', sa.LargeBinary(length=32), nullable=False, comment='order commitment: one review each'),
    sa.Column('product_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('merchant', sa.LargeBinary(length=20), nullable=False),
    sa.Column('reviewer', sa.LargeBinary(length=32), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=False),
    sa.Column('submitted_at', sa.BigInteger(), nullable=False),
    sa.Column('accepted_ms', sa.BigInteger(), nullable=False, comment='when the receipt was signed: the MMD clock starts'),
    sa.Column('takedown', sa.SmallInteger(), nullable=False, comment='0 visible, 1 hidden by the operator pending a ruling, 2 removed by a ruling'),
    sa.Column('takedown_ref', sa.LargeBinary(length=32), nullable=True, comment='the dispute id or act behind a takedown'),
    sa.Column('takedown_ms', sa.BigInteger(), nullable=True, comment='when the current takedown state was set'),
    sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_log_leaves')),
    sa.UniqueConstraint('purchase', name=op.f('uq_log_leaves_purchase'))
    )
    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_leaves_merchant'), ['merchant'], unique=False)
        batch_op.create_index(batch_op.f('ix_log_leaves_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_log_leaves_reviewer'), ['reviewer'], unique=False)

    op.create_table('log_nodes',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('node_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'node_index', name=op.f('pk_log_nodes'))
    )
    op.create_table('log_state',
    sa.Column('log_id', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sequencer', sa.String(length=100), nullable=True, comment='who holds the sequencer lease'),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('log_id', name=op.f('pk_log_state'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('sender', sa.String(length=42), nullable=False),
    sa.Column('to_address', sa.String(length=42), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='queued | signed | sent | mined | confirmed | failed'),
    sa.Column('nonce', sa.BigInteger(), nullable=True),
    sa.Column('gas_limit', sa.BigInteger(), nullable=True),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=True, comment='the attempt that was mined, or the latest'),
    sa.Column('block_number', sa.BigInteger(), nullable=True),
    sa.Column('block_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('error_name', sa.String(length=100), nullable=True),
    sa.Column('error', sa.Text(), nullable=True, comment='why the write failed, for people'),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('applied_count', sa.Integer(), nullable=False, comment="times this write's transaction was seen mined with status 1 on the canonical chain"),
    sa.Column('receipt_status', sa.SmallInteger(), nullable=True, comment='status of the mined receipt: 1 success, 0 reverted'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_sender_status', ['sender', 'status'], unique=False)

    op.create_table('sender_accounts',
    sa.Column('address', sa.String(length=42), nullable=False, comment='checksummed address of a sending key'),
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('next_nonce', sa.BigInteger(), nullable=False, comment='the next nonce this key will sign with'),
    sa.Column('head_number', sa.BigInteger(), nullable=True, comment='latest block seen by the sender'),
    sa.Column('head_hash', sa.LargeBinary(length=32), nullable=True),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_sender_accounts'))
    )
    op.create_table('outbox_attempts',
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('outbox_id', sa.BigInteger(), nullable=False),
    sa.Column('nonce', sa.BigInteger(), nullable=False),
    sa.Column('raw_tx', sa.LargeBinary(), nullable=False, comment='the signed transaction, to re-broadcast as is'),
    sa.Column('max_fee', sa.Text(), nullable=False),
    sa.Column('priority_fee', sa.Text(), nullable=False),
    sa.Column('signed_ms', sa.BigInteger(), nullable=False),
    sa.Column('sent_ms', sa.BigInteger(), nullable=True, comment='last time it was handed to the node; NULL: never'),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_outbox_attempts_outbox_id_outbox')),
    sa.PrimaryKeyConstraint('tx_hash', name=op.f('pk_outbox_attempts'))
    )
    with op.batch_alter_table('outbox_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_attempts_outbox_id'), ['outbox_id'], unique=False)

    op.create_table('review_content',
    sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=True, comment='AES-256-GCM sealed text and salt; NULL once erased'),
    sa.Column('erased_ms', sa.BigInteger(), nullable=True),
    sa.Column('erasure_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['leaf_index'], ['log_leaves.leaf_index'], name=op.f('fk_review_content_leaf_index_log_leaves')),
    sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_review_content'))
    )


def downgrade() -> None:
    op.drop_table('review_content')
    with op.batch_alter_table('outbox_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_attempts_outbox_id'))

    op.drop_table('outbox_attempts')
    op.drop_table('sender_accounts')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_sender_status')

    op.drop_table('outbox')
    op.drop_table('log_state')
    op.drop_table('log_nodes')
    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_leaves_reviewer'))
        batch_op.drop_index(batch_op.f('ix_log_leaves_product_id'))
        batch_op.drop_index(batch_op.f('ix_log_leaves_merchant'))

    op.drop_table('log_leaves')
    op.drop_table('log_checkpoints')
