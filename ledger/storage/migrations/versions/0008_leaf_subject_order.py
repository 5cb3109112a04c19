"""log_leaves: the product, merchant and reviewer indexes hold leaf_index too, so "this merchant's leaves from
index i on" is a range scan of the index (the review tally's profiles ask it on every call)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = ('product_id', 'merchant', 'reviewer')


def upgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f'ix_log_leaves_{column}', table_name='log_leaves')
        op.create_index(f'ix_log_leaves_{column}', 'log_leaves', [column, 'leaf_index'], unique=False)


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f'ix_log_leaves_{column}', table_name='log_leaves')
        op.create_index(f'ix_log_leaves_{column}', 'log_leaves', [column], unique=False)
