"""the event indexer: cursor, blocks, decoded events and their projections (docs/indexer.md)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idx_accreditations',
    sa.Column('issuer', sa.LargeBinary(length=20), nullable=False),
    sa.Column('issuer_id', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.BigInteger(), nullable=False),
    sa.Column('valid_until', sa.BigInteger(), nullable=False),
    sa.Column('suspended', sa.Boolean(), nullable=False),
    sa.Column('suspension_reason', sa.LargeBinary(length=32), nullable=True),
    sa.Column('compromised_at', sa.BigInteger(), nullable=False, comment='0: no declared compromise'),
    sa.Column('compromise_declared_by', sa.LargeBinary(length=20), nullable=True),
    sa.Column('accredited_block', sa.BigInteger(), nullable=False),
    sa.Column('updated_block', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('issuer', name=op.f('pk_idx_accreditations')),
    sa.UniqueConstraint('issuer_id', name=op.f('uq_idx_accreditations_issuer_id'))
    )
    op.create_table('idx_acts',
    sa.Column('act_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.SmallInteger(), nullable=False),
    sa.Column('state', sa.SmallInteger(), nullable=False, comment='1 Pending, 2 Executed, 3 Cancelled'),
    sa.Column('eta', sa.BigInteger(), nullable=False),
    sa.Column('time', sa.BigInteger(), nullable=False),
    sa.Column('account', sa.LargeBinary(length=20), nullable=False),
    sa.Column('ref', sa.LargeBinary(length=32), nullable=False),
    sa.Column('reason_code', sa.LargeBinary(length=32), nullable=False),
    sa.Column('scheduled_block', sa.BigInteger(), nullable=False),
    sa.Column('scheduled_tx', sa.LargeBinary(length=32), nullable=False),
    sa.Column('closed_block', sa.BigInteger(), nullable=True, comment='where it was executed or cancelled'),
    sa.PrimaryKeyConstraint('act_id', name=op.f('pk_idx_acts'))
    )
    op.create_table('idx_arbitrators',
    sa.Column('arbitrator', sa.LargeBinary(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False, comment="index in governance's list (arbitratorAt)"),
    sa.Column('appointed_block', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('arbitrator', name=op.f('pk_idx_arbitrators'))
    )
    op.create_table('idx_blocks',
    sa.Column('number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('parent_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_idx_blocks'))
    )
    op.create_table('idx_certificate_history',
    sa.Column('certificate_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('block_number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('log_index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('block_time', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('args', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('certificate_id', 'block_number', 'log_index', name=op.f('pk_idx_certificate_history'))
    )
    op.create_table('idx_certificates',
    sa.Column('certificate_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('product_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('lot', sa.LargeBinary(length=32), nullable=False),
    sa.Column('merchant', sa.LargeBinary(length=20), nullable=False),
    sa.Column('issuer', sa.LargeBinary(length=20), nullable=False),
    sa.Column('issuer_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.SmallInteger(), nullable=False, comment='0 Certificate, 1 SpotCheckPass, 2 SpotCheckFail'),
    sa.Column('document_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('standard', sa.LargeBinary(length=32), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('valid_until', sa.BigInteger(), nullable=False),
    sa.Column('anchored_by', sa.LargeBinary(length=20), nullable=False),
    sa.Column('anchored_at', sa.BigInteger(), nullable=False, comment='time of the block that recorded it'),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_by', sa.LargeBinary(length=20), nullable=True),
    sa.Column('revocation_reason', sa.LargeBinary(length=32), nullable=True),
    sa.Column('revocation_act', sa.BigInteger(), nullable=True, comment='governance act id; NULL: revoked by the issuer'),
    sa.Column('superseded_at', sa.BigInteger(), nullable=True),
    sa.Column('superseded_by', sa.LargeBinary(length=32), nullable=True),
    sa.Column('supersession_reason', sa.LargeBinary(length=32), nullable=True),
    sa.Column('replaces', sa.LargeBinary(length=32), nullable=True, comment='the certificate this one superseded'),
    sa.PrimaryKeyConstraint('certificate_id', name=op.f('pk_idx_certificates'))
    )
    with op.batch_alter_table('idx_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idx_certificates_issuer'), ['issuer'], unique=False)
        batch_op.create_index(batch_op.f('ix_idx_certificates_lot'), ['lot'], unique=False)
        batch_op.create_index(batch_op.f('ix_idx_certificates_merchant'), ['merchant'], unique=False)
        batch_op.create_index(batch_op.f('ix_idx_certificates_product_id'), ['product_id'], unique=False)

    op.create_table('idx_checkpoints',
    sa.Column('checkpoint_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('anchored_at', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('checkpoint_index', name=op.f('pk_idx_checkpoints'))
    )
    op.create_table('idx_dispute_history',
    sa.Column('dispute_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('block_number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('log_index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('block_time', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('args', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id', 'block_number', 'log_index', name=op.f('pk_idx_dispute_history'))
    )
    op.create_table('idx_disputes',
    sa.Column('dispute_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('kind', sa.SmallInteger(), nullable=False, comment='0 Purchase, 1 ReviewChallenge'),
    sa.Column('phase', sa.SmallInteger(), nullable=False),
    sa.Column('resume', sa.SmallInteger(), nullable=False),
    sa.Column('outcome', sa.SmallInteger(), nullable=False),
    sa.Column('round', sa.SmallInteger(), nullable=False),
    sa.Column('by_default', sa.Boolean(), nullable=False),
    sa.Column('panel', sa.Boolean(), nullable=False),
    sa.Column('cursor', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.BigInteger(), nullable=False),
    sa.Column('response_deadline', sa.BigInteger(), nullable=False),
    sa.Column('ruling_deadline', sa.BigInteger(), nullable=False),
    sa.Column('appeal_deadline', sa.BigInteger(), nullable=False),
    sa.Column('remedy_deadline', sa.BigInteger(), nullable=False),
    sa.Column('claimant', sa.LargeBinary(length=20), nullable=False),
    sa.Column('respondent', sa.LargeBinary(length=20), nullable=False),
    sa.Column('merchant', sa.LargeBinary(length=20), nullable=False),
    sa.Column('arbitrator', sa.LargeBinary(length=20), nullable=False),
    sa.Column('first_arbitrator', sa.LargeBinary(length=20), nullable=False),
    sa.Column('remedy_amount', sa.Text(), nullable=False, comment='uint96, decimal'),
    sa.Column('subject', sa.LargeBinary(length=32), nullable=False, comment='order commitment, or the leaf index (uint256)'),
    sa.Column('product_id', sa.LargeBinary(length=32), nullable=True, comment='purchase disputes'),
    sa.Column('category', sa.LargeBinary(length=32), nullable=False),
    sa.Column('claimant_commitment', sa.LargeBinary(length=32), nullable=True),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id', name=op.f('pk_idx_disputes'))
    )
    with op.batch_alter_table('idx_disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idx_disputes_merchant'), ['merchant'], unique=False)
        batch_op.create_index(batch_op.f('ix_idx_disputes_product_id'), ['product_id'], unique=False)

    op.create_table('idx_events',
    sa.Column('block_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('tx_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('log_index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_time', sa.BigInteger(), nullable=False),
    sa.Column('tx_index', sa.Integer(), nullable=False),
    sa.Column('address', sa.LargeBinary(length=20), nullable=False),
    sa.Column('contract', sa.String(length=40), nullable=False, comment='TrustGovernance, CertificateRegistry, ...'),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('args', sa.Text(), nullable=False, comment='decoded arguments: JSON, bytes as 0x hex, wide ints as strings'),
    sa.Column('topics', sa.LargeBinary(), nullable=False, comment='the raw topics, concatenated'),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('block_hash', 'tx_hash', 'log_index', name=op.f('pk_idx_events'))
    )
    with op.batch_alter_table('idx_events', schema=None) as batch_op:
        batch_op.create_index('ix_idx_events_contract_event', ['contract', 'event'], unique=False)
        batch_op.create_index('ix_idx_events_position', ['block_number', 'log_index'], unique=False)

    op.create_table('idx_issuer_scopes',
    sa.Column('issuer', sa.LargeBinary(length=20), nullable=False),
    sa.Column('scope', sa.LargeBinary(length=32), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('issuer', 'scope', name=op.f('pk_idx_issuer_scopes'))
    )
    op.create_table('idx_merchants',
    sa.Column('merchant', sa.LargeBinary(length=20), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False, comment='1 Active, 2 Suspended, 3 Banned'),
    sa.Column('admitted_at', sa.BigInteger(), nullable=False),
    sa.Column('licence_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sanction_kind', sa.SmallInteger(), nullable=True, comment='last sanction: 0 Warning, 1 Suspension, 2 Ban'),
    sa.Column('reason_code', sa.LargeBinary(length=32), nullable=True, comment='of the last sanction or restoration'),
    sa.Column('ruling_ref', sa.LargeBinary(length=32), nullable=True, comment='of the last sanction or restoration'),
    sa.Column('updated_block', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('merchant', name=op.f('pk_idx_merchants'))
    )
    op.create_table('idx_parameters',
    sa.Column('name', sa.String(length=40), nullable=False, comment='log_operator | order_signer | certificate_registry | ...'),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_idx_parameters'))
    )
    op.create_table('idx_state',
    sa.Column('state_id', sa.SmallInteger(), autoincrement=False, nullable=False, comment='always 1'),
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('deploy_block', sa.BigInteger(), nullable=False),
    sa.Column('cursor_number', sa.BigInteger(), nullable=False, comment='last block indexed; deploy_block - 1 before any'),
    sa.Column('cursor_hash', sa.LargeBinary(length=32), nullable=True, comment='its hash; NULL before any block is indexed'),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('state_id', name=op.f('pk_idx_state'))
    )
    op.create_table('idx_takedowns',
    sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('state', sa.SmallInteger(), nullable=False, comment='1 EmergencyHidden, 2 TakenDown, 3 Restored'),
    sa.Column('hidden_at', sa.BigInteger(), nullable=False),
    sa.Column('lapse_at', sa.BigInteger(), nullable=False),
    sa.Column('reason_code', sa.LargeBinary(length=32), nullable=False),
    sa.Column('dispute_id', sa.LargeBinary(length=32), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_idx_takedowns'))
    )


def downgrade() -> None:
    op.drop_table('idx_takedowns')
    op.drop_table('idx_state')
    op.drop_table('idx_parameters')
    op.drop_table('idx_merchants')
    op.drop_table('idx_issuer_scopes')
    with op.batch_alter_table('idx_events', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_events_position')
        batch_op.drop_index('ix_idx_events_contract_event')

    op.drop_table('idx_events')
    with op.batch_alter_table('idx_disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idx_disputes_product_id'))
        batch_op.drop_index(batch_op.f('ix_idx_disputes_merchant'))

    op.drop_table('idx_disputes')
    op.drop_table('idx_dispute_history')
    op.drop_table('idx_checkpoints')
    with op.batch_alter_table('idx_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idx_certificates_product_id'))
        batch_op.drop_index(batch_op.f('ix_idx_certificates_merchant'))
        batch_op.drop_index(batch_op.f('ix_idx_certificates_lot'))
        batch_op.drop_index(batch_op.f('ix_idx_certificates_issuer'))

    op.drop_table('idx_certificates')
    op.drop_table('idx_certificate_history')
    op.drop_table('idx_blocks')
    op.drop_table('idx_arbitrators')
    op.drop_table('idx_acts')
    op.drop_table('idx_accreditations')
