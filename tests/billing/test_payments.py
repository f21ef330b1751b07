"""Payments over HTTP: record (both routes), invoice recalculated in the same transaction,
balance and status rules, corrections limited to method/reference/notes, never deleted."""

from __future__ import annotations

import uuid

import pytest

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.billing.factories import make_invoice
from tests.billing.test_invoices import assert_problem
from tests.identity.factories import auth_headers


@pytest.fixture
async def billing(client, session):
    return await auth_headers(client, session, Role.BILLING_OFFICER)


class TestRecordPayment:
    async def test_partial_then_full_payment_updates_invoice(self, client, session, billing):
        invoice = await make_invoice(session, lines=[("60.00", 2)], tax="5.50", issue=True)
        first = await client.post("/api/v1/payments", headers=billing, json={
            "invoice_id": str(invoice.id), "amount": "25.50", "payment_method": "CASH",
            "transaction_reference": "R-1"})
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["amount"] == "25.50" and body["payment_method"] == "cash"
        assert body["patient_id"] == str(invoice.patient_id)
        assert (body["invoice"]["amount_paid"], body["invoice"]["balance_due"],
                body["invoice"]["status"]) == ("25.50", "100.00", "partially_paid")
        assert first.headers["location"] == f"/api/v1/payments/{body['id']}"
        second = await client.post("/api/v1/payments/process", headers=billing, json={
            "invoice_id": str(invoice.id), "amount": 100, "method": "credit_card"})
        assert second.status_code == 201, second.text
        assert (second.json()["invoice"]["amount_paid"],
                second.json()["invoice"]["balance_due"],
                second.json()["invoice"]["status"]) == ("125.50", "0.00", "paid")
        assert await audit.count_events(session, action="payment", entity_type="payment",
                                        patient_id=invoice.patient_id) == 2

    async def test_payment_cannot_exceed_balance(self, client, session, billing):
        invoice = await make_invoice(session, payments=["60.00"])
        resp = await client.post("/api/v1/payments", headers=billing, json={
            "invoice_id": str(invoice.id), "amount": "40.01", "payment_method": "cash"})
        assert_problem(resp, 422, "payment_exceeds_balance")
        assert resp.json()["balance_due"] == "40.00"
        got = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert got.json()["amount_paid"] == "60.00"

    @pytest.mark.parametrize("amount", ["0", "0.00", "-1.00", "1.001", "NaN", "Infinity"])
    async def test_amount_must_be_positive_with_two_decimals(self, client, session, billing,
                                                             amount):
        invoice = await make_invoice(session, issue=True)
        resp = await client.post("/api/v1/payments", headers=billing, json={
            "invoice_id": str(invoice.id), "amount": amount, "payment_method": "cash"})
        assert resp.status_code == 422, amount
        assert resp.json()["errors"][0]["field"] == "amount"

    async def test_draft_cancelled_and_paid_invoices_take_no_payment(self, client, session,
                                                                     billing):
        draft = await make_invoice(session)
        paid = await make_invoice(session, payments=["100.00"])
        cancelled = await make_invoice(session, issue=True)
        await client.delete(f"/api/v1/invoices/{cancelled.id}", headers=billing)
        for invoice in (draft, paid, cancelled):
            resp = await client.post("/api/v1/payments", headers=billing, json={
                "invoice_id": str(invoice.id), "amount": "1.00", "payment_method": "cash"})
            assert_problem(resp, 409, "invoice_not_payable")

    async def test_overdue_invoice_takes_payments(self, client, session, billing):
        from datetime import UTC, datetime, timedelta

        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        invoice = await make_invoice(session, issue=True, due_date=yesterday,
                                     invoice_date=yesterday - timedelta(days=30))
        resp = await client.post("/api/v1/payments", headers=billing, json={
            "invoice_id": str(invoice.id), "amount": "30.00", "payment_method": "cash"})
        assert resp.status_code == 201
        assert resp.json()["invoice"]["status"] == "overdue"

    async def test_references_must_match(self, client, session, billing):
        invoice = await make_invoice(session, issue=True)
        for extra, field in (({"patient_id": str(uuid.uuid4())}, "patient_id"),
                             ({"processed_by_user_id": str(uuid.uuid4())},
                              "processed_by_user_id"),
                             ({"payment_date": "2999-01-01T00:00:00"}, "payment_date")):
            resp = await client.post("/api/v1/payments", headers=billing, json={
                "invoice_id": str(invoice.id), "amount": "1.00", "payment_method": "cash",
                **extra})
            assert resp.status_code == 422, extra
            assert resp.json()["errors"][0]["field"] == field
        unknown = await client.post("/api/v1/payments", headers=billing, json={
            "invoice_id": str(uuid.uuid4()), "amount": "1.00", "payment_method": "cash"})
        assert unknown.status_code == 422

    async def test_naive_payment_date_is_taken_as_utc(self, client, session, billing):
        invoice = await make_invoice(session, issue=True)
        resp = await client.post("/api/v1/payments", headers=billing, json={
            "invoice_id": str(invoice.id), "amount": "1.00", "payment_method": "cheque",
            "payment_date": "2026-01-02T10:00:00"})
        assert resp.status_code == 201, resp.text
        assert resp.json()["payment_date"].startswith("2026-01-02T10:00:00")

    async def test_other_roles_get_403(self, client, session):
        invoice = await make_invoice(session, issue=True)
        for role in (Role.PHYSICIAN, Role.NURSE, Role.RECEPTIONIST, Role.LAB_TECHNICIAN):
            h = await auth_headers(client, session, role)
            resp = await client.post("/api/v1/payments", headers=h, json={
                "invoice_id": str(invoice.id), "amount": "1.00", "payment_method": "cash"})
            assert resp.status_code == 403
            assert (await client.get("/api/v1/payments", headers=h)).status_code == 403


class TestPaymentRecords:
    async def _payment(self, client, billing, session) -> tuple[dict, object]:
        invoice = await make_invoice(session, issue=True)
        resp = await client.post("/api/v1/payments", headers=billing, json={
            "invoice_id": str(invoice.id), "amount": "20.00", "payment_method": "cash"})
        return resp.json(), invoice

    async def test_method_reference_notes_can_be_corrected(self, client, session, billing):
        payment, _ = await self._payment(client, billing, session)
        resp = await client.put(f"/api/v1/payments/{payment['id']}", headers=billing, json={
            "payment_method": "debit_card", "transaction_reference": "TX-9",
            "notes": "card, not cash", "amount": "20.00"})
        assert resp.status_code == 200, resp.text
        assert (resp.json()["payment_method"], resp.json()["transaction_reference"]) == (
            "debit_card", "TX-9")
        events = await audit.list_events(session, entity_type="payment",
                                         entity_id=payment["id"], action="update")
        assert events[0].changes["before"]["payment_method"] == "cash"

    async def test_amount_and_invoice_are_immutable(self, client, session, billing):
        payment, _ = await self._payment(client, billing, session)
        other = await make_invoice(session, issue=True)
        for change in ({"amount": "25.00"}, {"invoice_id": str(other.id)},
                       {"payment_date": "2020-01-01T00:00:00Z"}):
            resp = await client.put(f"/api/v1/payments/{payment['id']}", headers=billing,
                                    json=change)
            assert_problem(resp, 409, "payment_immutable")

    async def test_delete_is_refused_and_the_row_stays(self, client, session, billing):
        payment, invoice = await self._payment(client, billing, session)
        resp = await client.delete(f"/api/v1/payments/{payment['id']}", headers=billing)
        assert_problem(resp, 409, "payment_retention")
        assert "refund" in resp.json()["detail"]
        got = await client.get(f"/api/v1/payments/{payment['id']}", headers=billing)
        assert got.status_code == 200
        inv = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert inv.json()["amount_paid"] == "20.00"
        missing = await client.delete(f"/api/v1/payments/{uuid.uuid4()}", headers=billing)
        assert missing.status_code == 404

    async def test_list_filters(self, client, session, billing):
        invoice = await make_invoice(session, payments=["10.00", "15.00"])
        await make_invoice(session, payments=["5.00"])
        resp = await client.get("/api/v1/payments", headers=billing, params={
            "invoice_id": str(invoice.id), "sort": "amount"})
        assert [p["amount"] for p in resp.json()["items"]] == ["10.00", "15.00"]
        by_patient = await client.get("/api/v1/payments", headers=billing, params={
            "patient_id": str(invoice.patient_id), "payment_method": "cash"})
        assert by_patient.json()["total"] == 2
        none = await client.get("/api/v1/payments", headers=billing, params={
            "invoice_id": str(invoice.id), "method": "insurance"})
        assert none.json()["total"] == 0
        dated = await client.get("/api/v1/payments", headers=billing, params={
            "invoice_id": str(invoice.id), "date_from": "2000-01-01", "date_to": "2000-12-31"})
        assert dated.json()["total"] == 0
        assert (await client.get("/api/v1/payments", headers=billing,
                                 params={"sort": "notes"})).status_code == 422
