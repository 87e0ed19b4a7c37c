"""Conversions: tracked links, contacts and identities, touchpoints, events, inbox messages

Revision ID: d7e2c9a4f1b6
Revises: c4a1e0d2b7f3
Create Date: 2026-11-22 13:44:38.967979
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import planner.dbtypes

revision: str = 'd7e2c9a4f1b6'
down_revision: str | None = 'c4a1e0d2b7f3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_at', planner.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('last_message_at', planner.dbtypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_ws_last', ['workspace_id', 'last_message_at'], unique=False)

    op.create_table('conversionsettings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('dud_contacts_per_100_sessions', sa.Float(), nullable=False),
    sa.Column('dud_min_sessions', sa.Integer(), nullable=False),
    sa.Column('dud_window_weeks', sa.Integer(), nullable=False),
    sa.Column('auto_reply_cooldown_hours', sa.Integer(), nullable=False),
    sa.Column('shop_secret_enc', sa.Text(), server_default='', nullable=False),
    sa.Column('meta_verify_token', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('meta_app_secret_enc', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id')
    )
    op.create_table('autoreply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('post_id')
    )
    op.create_table('contactidentity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'kind', 'value')
    )
    with op.batch_alter_table('contactidentity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contactidentity_contact_id'), ['contact_id'], unique=False)

    op.create_table('conversionevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('at', planner.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'source', 'external_id')
    )
    with op.batch_alter_table('conversionevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversionevent_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_conversionevent_ws_kind_at', ['workspace_id', 'kind', 'at'], unique=False)

    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('delivery', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('remote_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('at', planner.dbtypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'channel', 'remote_id')
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_contact_at', ['contact_id', 'at'], unique=False)

    op.create_table('trackedlink',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('url_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('target_url', sa.Text(), nullable=False),
    sa.Column('created_at', planner.dbtypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], ),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('publication_id', 'url_hash')
    )
    with op.batch_alter_table('trackedlink', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trackedlink_code'), ['code'], unique=True)
        batch_op.create_index(batch_op.f('ix_trackedlink_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('touchpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('at', planner.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('visitor_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('publication_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('referrer', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.ForeignKeyConstraint(['link_id'], ['trackedlink.id'], ),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], ),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('touchpoint', schema=None) as batch_op:
        batch_op.create_index('ix_touchpoint_contact_at', ['contact_id', 'at'], unique=False)
        batch_op.create_index('ix_touchpoint_visitor', ['workspace_id', 'visitor_id'], unique=False)
        batch_op.create_index('ix_touchpoint_ws_at', ['workspace_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('touchpoint', schema=None) as batch_op:
        batch_op.drop_index('ix_touchpoint_ws_at')
        batch_op.drop_index('ix_touchpoint_visitor')
        batch_op.drop_index('ix_touchpoint_contact_at')

    op.drop_table('touchpoint')
    with op.batch_alter_table('trackedlink', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trackedlink_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_trackedlink_code'))

    op.drop_table('trackedlink')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_contact_at')

    op.drop_table('message')
    with op.batch_alter_table('conversionevent', schema=None) as batch_op:
        batch_op.drop_index('ix_conversionevent_ws_kind_at')
        batch_op.drop_index(batch_op.f('ix_conversionevent_contact_id'))

    op.drop_table('conversionevent')
    with op.batch_alter_table('contactidentity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contactidentity_contact_id'))

    op.drop_table('contactidentity')
    op.drop_table('autoreply')
    op.drop_table('conversionsettings')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_ws_last')

    op.drop_table('contact')
