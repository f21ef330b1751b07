"""billing: services, invoices, invoice line items, payments, invoice number counter

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=12, scale=2)


def upgrade() -> None:
    op.create_table('services',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('service_type', sa.String(length=20), nullable=False),
    sa.Column('default_price', MONEY, nullable=False),
    sa.Column('default_duration_minutes', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('default_price > 0', name=op.f('ck_services_default_price_positive')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_services_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services'))
    )
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_services_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_services_service_type_is_active', ['service_type', 'is_active'], unique=False)

    op.create_table('invoice_number_counters',
    sa.Column('year', sa.String(length=4), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_invoice_number_counters'))
    )

    op.create_table('invoices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('invoice_number', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('appointment_id', sa.Uuid(), nullable=True),
    sa.Column('consultation_id', sa.Uuid(), nullable=True),
    sa.Column('invoice_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('subtotal', MONEY, nullable=False),
    sa.Column('tax_amount', MONEY, nullable=False),
    sa.Column('discount_amount', MONEY, nullable=False),
    sa.Column('total_amount', MONEY, nullable=False),
    sa.Column('amount_paid', MONEY, nullable=False),
    sa.Column('balance_due', MONEY, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('subtotal >= 0', name=op.f('ck_invoices_subtotal_not_negative')),
    sa.CheckConstraint('tax_amount >= 0', name=op.f('ck_invoices_tax_amount_not_negative')),
    sa.CheckConstraint('discount_amount >= 0 AND discount_amount <= subtotal', name=op.f('ck_invoices_discount_within_subtotal')),
    sa.CheckConstraint('amount_paid >= 0 AND amount_paid <= total_amount', name=op.f('ck_invoices_amount_paid_within_total')),
    sa.CheckConstraint('balance_due >= 0', name=op.f('ck_invoices_balance_due_not_negative')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_invoices_patient_id_patients')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_invoices_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_invoices_consultation_id_consultations')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_invoices_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('invoice_number', name=op.f('uq_invoices_invoice_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_consultation_id'), ['consultation_id'], unique=False)
        batch_op.create_index('ix_invoices_status_due_date', ['status', 'due_date'], unique=False)
        batch_op.create_index('ix_invoices_patient_id_invoice_date', ['patient_id', 'invoice_date'], unique=False)

    op.create_table('invoice_line_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('invoice_id', sa.Uuid(), nullable=False),
    sa.Column('service_id', sa.Uuid(), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', MONEY, nullable=False),
    sa.Column('line_total', MONEY, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity >= 1', name=op.f('ck_invoice_line_items_quantity_positive')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_invoice_line_items_unit_price_not_negative')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_line_items_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_invoice_line_items_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_line_items'))
    )
    with op.batch_alter_table('invoice_line_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_line_items_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_line_items_service_id'), ['service_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('invoice_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('payment_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('payment_method', sa.String(length=20), nullable=False),
    sa.Column('transaction_reference', sa.String(length=100), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('processed_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_payments_patient_id_patients')),
    sa.ForeignKeyConstraint(['processed_by_user_id'], ['users.id'], name=op.f('fk_payments_processed_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_payments_patient_id_payment_date', ['patient_id', 'payment_date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_patient_id_payment_date')
        batch_op.drop_index(batch_op.f('ix_payments_invoice_id'))
    op.drop_table('payments')
    with op.batch_alter_table('invoice_line_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_line_items_service_id'))
        batch_op.drop_index(batch_op.f('ix_invoice_line_items_invoice_id'))
    op.drop_table('invoice_line_items')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_patient_id_invoice_date')
        batch_op.drop_index('ix_invoices_status_due_date')
        batch_op.drop_index(batch_op.f('ix_invoices_consultation_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_appointment_id'))
    op.drop_table('invoices')
    op.drop_table('invoice_number_counters')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_index('ix_services_service_type_is_active')
        batch_op.drop_index(batch_op.f('ix_services_department_id'))
    op.drop_table('services')
