"""Invoices and their line items over HTTP: generated from a completed consultation,
totals in Decimal, issue, overdue, edits on drafts only, cancel, details without N+1."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.billing.factories import make_consultation, make_invoice, make_service
from tests.identity.factories import auth_headers

PROBLEM = "application/problem+json"
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


def assert_problem(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == code
    assert body["type"].endswith(code)


@pytest.fixture
async def billing(client, session):
    return await auth_headers(client, session, Role.BILLING_OFFICER)


class TestCreateInvoice:
    async def test_invoice_from_completed_consultation_computes_totals(
            self, client, session, billing):
        consultation = await make_consultation(session)
        service = await make_service(session, name="Consultation", default_price="100.00")
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id),
            "line_items": [
                {"service_id": str(service.id)},
                {"description": "Dressing", "quantity": 3, "unit_price": "33.33"},
            ],
            "tax_amount": "14.00", "discount_amount": "0.99", "due_date": "2099-01-31"})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert re.fullmatch(r"INV-\d{4}-\d{6}", body["invoice_number"])
        assert body["status"] == "draft"
        assert body["patient_id"] == str(consultation.patient_id)
        assert body["consultation_id"] == str(consultation.id)
        assert (body["subtotal"], body["tax_amount"], body["discount_amount"],
                body["total_amount"], body["amount_paid"], body["balance_due"]) == (
            "199.99", "14.00", "0.99", "213.00", "0.00", "213.00")
        lines = (await client.get("/api/v1/invoice-line-items", headers=billing,
                                  params={"invoice_id": body["id"]})).json()["items"]
        assert [(li["description"], li["quantity"], li["unit_price"], li["line_total"])
                for li in lines] == [("Consultation", 1, "100.00", "100.00"),
                                     ("Dressing", 3, "33.33", "99.99")]
        assert await audit.count_events(session, action="create", entity_type="invoice",
                                        patient_id=consultation.patient_id) == 1

    async def test_numbers_are_sequential(self, client, session, billing):
        consultation = await make_consultation(session)
        numbers = []
        for _ in range(3):
            resp = await client.post("/api/v1/invoices", headers=billing, json={
                "consultation_id": str(consultation.id),
                "line_items": [{"description": "Visit", "unit_price": "10.00"}]})
            numbers.append(int(resp.json()["invoice_number"].rsplit("-", 1)[1]))
        assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]

    async def test_consultation_not_completed_is_refused(self, client, session, billing):
        consultation = await make_consultation(session, status="in_progress")
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id)})
        assert_problem(resp, 422, "consultation_not_completed")

    async def test_appointment_without_consultation_is_refused(self, client, session,
                                                               billing):
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "appointment_id": str(uuid.uuid4())})
        assert_problem(resp, 422, "consultation_not_completed")

    async def test_consultation_or_appointment_required(self, client, session, billing):
        resp = await client.post("/api/v1/invoices", headers=billing, json={})
        assert resp.status_code == 422
        unknown = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(uuid.uuid4())})
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "consultation_id"

    async def test_patient_must_be_the_consultations(self, client, session, billing):
        consultation = await make_consultation(session)
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id), "patient_id": str(uuid.uuid4())})
        assert_problem(resp, 422, "consultation_mismatch")

    async def test_discount_cannot_exceed_subtotal(self, client, session, billing):
        consultation = await make_consultation(session)
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id), "discount_amount": "50.01",
            "line_items": [{"description": "Visit", "unit_price": "50.00"}]})
        assert_problem(resp, 422, "discount_exceeds_subtotal")

    @pytest.mark.parametrize("line", [
        {"description": "x", "unit_price": "10.001"},
        {"description": "x", "unit_price": "-1.00"},
        {"description": "x", "unit_price": "1.00", "quantity": 0},
        {"description": "x", "unit_price": "1.00", "quantity": 1.5},
        {"description": "x"},
        {"description": "x" * 256, "unit_price": "1.00"},
    ])
    async def test_invalid_lines_are_422(self, client, session, billing, line):
        consultation = await make_consultation(session)
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id), "line_items": [line]})
        assert resp.status_code == 422, line
        assert resp.headers["content-type"].startswith(PROBLEM)

    async def test_more_than_two_decimals_in_tax_is_422(self, client, session, billing):
        consultation = await make_consultation(session)
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id), "tax_amount": "1.234"})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "tax_amount"

    async def test_inactive_service_cannot_be_billed(self, client, session, billing):
        consultation = await make_consultation(session)
        service = await make_service(session, is_active=False)
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id),
            "line_items": [{"service_id": str(service.id)}]})
        assert_problem(resp, 422, "service_inactive")

    async def test_amounts_beyond_numeric_12_2_are_refused(self, client, session, billing):
        consultation = await make_consultation(session)
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id),
            "line_items": [{"description": "x", "unit_price": "9999999999.99",
                            "quantity": 2}]})
        assert_problem(resp, 422, "amount_out_of_range")

    async def test_clinical_and_front_desk_roles_get_403(self, client, session):
        consultation = await make_consultation(session)
        for role in (Role.PHYSICIAN, Role.NURSE, Role.RECEPTIONIST):
            h = await auth_headers(client, session, role)
            resp = await client.post("/api/v1/invoices", headers=h, json={
                "consultation_id": str(consultation.id)})
            assert resp.status_code == 403
            assert (await client.get("/api/v1/invoices", headers=h)).status_code == 403


class TestIssueAndEdit:
    async def test_issue_requires_lines_and_a_total(self, client, session, billing):
        consultation = await make_consultation(session)
        empty = (await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": str(consultation.id)})).json()
        assert_problem(await client.post(f"/api/v1/invoices/{empty['id']}/issue",
                                         headers=billing), 422, "invoice_empty")
        free = await make_invoice(session, consultation=consultation, lines=[("0.00", 1)])
        assert_problem(await client.post(f"/api/v1/invoices/{free.id}/issue",
                                         headers=billing), 422, "invoice_empty")

    async def test_issued_invoice_is_locked(self, client, session, billing):
        invoice = await make_invoice(session)
        resp = await client.post(f"/api/v1/invoices/{invoice.id}/issue", headers=billing)
        assert resp.status_code == 200 and resp.json()["status"] == "issued"
        assert resp.json()["issued_at"]
        assert await audit.count_events(session, action="issue",
                                        entity_id=str(invoice.id)) == 1
        assert_problem(await client.post(f"/api/v1/invoices/{invoice.id}/issue",
                                         headers=billing), 409, "invoice_not_draft")
        assert_problem(await client.put(f"/api/v1/invoices/{invoice.id}", headers=billing,
                                        json={"notes": "late"}), 409, "invoice_not_draft")
        assert_problem(await client.post("/api/v1/invoice-line-items", headers=billing, json={
            "invoice_id": str(invoice.id), "description": "x", "unit_price": "1.00"}),
            409, "invoice_not_draft")

    async def test_put_recomputes_totals_and_audits_the_change(self, client, session,
                                                               billing):
        invoice = await make_invoice(session, lines=[("40.00", 2)])
        resp = await client.put(f"/api/v1/invoices/{invoice.id}", headers=billing, json={
            "tax_amount": "8.00", "discount_amount": "10.00",
            "line_items": [{"description": "Visit", "unit_price": "60.00", "quantity": 2}]})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["subtotal"], body["total_amount"], body["balance_due"]) == (
            "120.00", "118.00", "118.00")
        events = await audit.list_events(session, entity_type="invoice",
                                         entity_id=str(invoice.id), action="update")
        assert events[0].changes["before"]["subtotal"] == "80.00"
        assert events[0].changes["after"]["total_amount"] == "118.00"

    async def test_put_discount_above_subtotal_is_refused(self, client, session, billing):
        invoice = await make_invoice(session, lines=[("40.00", 1)])
        resp = await client.put(f"/api/v1/invoices/{invoice.id}", headers=billing,
                                json={"discount_amount": "40.01"})
        assert_problem(resp, 422, "discount_exceeds_subtotal")

    async def test_put_with_stale_version_is_412(self, client, session, billing):
        invoice = await make_invoice(session)
        first = await client.put(f"/api/v1/invoices/{invoice.id}", headers=billing,
                                 json={"notes": "a", "version": invoice.version})
        assert first.status_code == 200
        stale = await client.put(f"/api/v1/invoices/{invoice.id}", headers={
            **billing, "If-Match": f'W/"{invoice.version}"'}, json={"notes": "b"})
        assert stale.status_code == 412


class TestLineItems:
    async def test_crud_keeps_invoice_totals_in_step(self, client, session, billing):
        invoice = await make_invoice(session, lines=[("10.00", 1)])
        added = await client.post("/api/v1/invoice-line-items", headers=billing, json={
            "invoice_id": str(invoice.id), "description": "Bandage", "quantity": 4,
            "unit_price": "2.50"})
        assert added.status_code == 201, added.text
        assert added.json()["line_total"] == "10.00"
        line_id = added.json()["id"]
        got = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert got.json()["subtotal"] == "20.00"
        changed = await client.put(f"/api/v1/invoice-line-items/{line_id}", headers=billing,
                                   json={"quantity": 2})
        assert changed.status_code == 200 and changed.json()["line_total"] == "5.00"
        got = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert got.json()["total_amount"] == "15.00"
        deleted = await client.delete(f"/api/v1/invoice-line-items/{line_id}",
                                      headers=billing)
        assert deleted.status_code == 200 and deleted.json()["total_amount"] == "10.00"
        assert (await client.get(f"/api/v1/invoice-line-items/{line_id}",
                                 headers=billing)).status_code == 404

    async def test_switching_service_takes_its_name_and_price(self, client, session,
                                                              billing):
        invoice = await make_invoice(session, lines=[("10.00", 1)])
        service = await make_service(session, name="MRI", default_price="450.00")
        lines = (await client.get("/api/v1/invoice-line-items", headers=billing,
                                  params={"invoice_id": str(invoice.id)})).json()["items"]
        resp = await client.put(f"/api/v1/invoice-line-items/{lines[0]['id']}",
                                headers=billing, json={"service_id": str(service.id)})
        assert resp.status_code == 200, resp.text
        assert (resp.json()["description"], resp.json()["line_total"]) == ("MRI", "450.00")

    async def test_removing_a_line_below_the_discount_is_refused(self, client, session,
                                                                 billing):
        invoice = await make_invoice(session, lines=[("10.00", 1), ("30.00", 1)],
                                     discount="20.00")
        lines = (await client.get("/api/v1/invoice-line-items", headers=billing,
                                  params={"invoice_id": str(invoice.id),
                                          "sort": "-line_total"})).json()["items"]
        assert lines[0]["line_total"] == "30.00"
        resp = await client.delete(f"/api/v1/invoice-line-items/{lines[0]['id']}",
                                   headers=billing)
        assert_problem(resp, 422, "discount_exceeds_subtotal")

    async def test_lines_of_issued_invoice_stay(self, client, session, billing):
        invoice = await make_invoice(session, issue=True)
        lines = (await client.get("/api/v1/invoice-line-items", headers=billing,
                                  params={"invoice_id": str(invoice.id)})).json()["items"]
        resp = await client.delete(f"/api/v1/invoice-line-items/{lines[0]['id']}",
                                   headers=billing)
        assert_problem(resp, 409, "invoice_not_draft")
        assert (await client.get(f"/api/v1/invoice-line-items/{lines[0]['id']}",
                                 headers=billing)).status_code == 200


class TestStatusAndListing:
    async def test_overdue_is_derived_and_filterable(self, client, session, billing):
        overdue = await make_invoice(session, issue=True, due_date=YESTERDAY,
                                     invoice_date=YESTERDAY - timedelta(days=30))
        partly = await make_invoice(session, due_date=YESTERDAY, payments=["40.00"],
                                    invoice_date=YESTERDAY - timedelta(days=30))
        current = await make_invoice(session, issue=True, due_date=date(2099, 1, 1))
        paid = await make_invoice(session, due_date=YESTERDAY, payments=["100.00"],
                                  invoice_date=YESTERDAY - timedelta(days=30))
        got = await client.get(f"/api/v1/invoices/{overdue.id}", headers=billing)
        assert got.json()["status"] == "overdue"
        listed = await client.get("/api/v1/invoices", headers=billing,
                                  params={"status": "overdue", "sort": "invoice_number"})
        assert [i["id"] for i in listed.json()["items"]] == [str(overdue.id), str(partly.id)]
        issued = await client.get("/api/v1/invoices", headers=billing,
                                  params={"status": "issued"})
        assert [i["id"] for i in issued.json()["items"]] == [str(current.id)]
        paid_list = await client.get("/api/v1/invoices", headers=billing,
                                     params={"status": "PAID"})
        assert [i["id"] for i in paid_list.json()["items"]] == [str(paid.id)]

    async def test_overdue_follows_the_clock(self, client, session, billing, monkeypatch):
        from hms.billing.service import _shared

        tomorrow = YESTERDAY + timedelta(days=2)
        invoice = await make_invoice(session, issue=True, due_date=tomorrow)
        got = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert got.json()["status"] == "issued"
        monkeypatch.setattr(_shared, "today", lambda: tomorrow + timedelta(days=1))
        got = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert got.json()["status"] == "overdue"
        listed = await client.get("/api/v1/invoices", headers=billing,
                                  params={"status": "overdue"})
        assert [i["id"] for i in listed.json()["items"]] == [str(invoice.id)]

    async def test_filters_combine(self, client, session, billing):
        consultation = await make_consultation(session)
        mine = await make_invoice(session, consultation=consultation,
                                  invoice_date=date(2026, 3, 10))
        await make_invoice(session, consultation=consultation, invoice_date=date(2026, 4, 10))
        await make_invoice(session, invoice_date=date(2026, 3, 10))
        resp = await client.get("/api/v1/invoices", headers=billing, params={
            "patient_id": str(consultation.patient_id), "date_from": "2026-03-01",
            "date_to": "2026-03-31"})
        assert [i["id"] for i in resp.json()["items"]] == [str(mine.id)]
        by_number = await client.get("/api/v1/invoices", headers=billing,
                                     params={"invoice_number": mine.invoice_number.lower()})
        assert by_number.json()["total"] == 1
        bad = await client.get("/api/v1/invoices", headers=billing, params={"sort": "notes"})
        assert bad.status_code == 422

    async def test_reads_are_audited(self, client, session, billing):
        invoice = await make_invoice(session)
        await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        await client.get("/api/v1/invoices", headers=billing)
        assert await audit.count_events(session, action="read", entity_id=str(invoice.id),
                                        patient_id=invoice.patient_id) == 2


class TestCancel:
    async def test_delete_cancels_an_unpaid_invoice_and_keeps_it(self, client, session,
                                                                 billing):
        invoice = await make_invoice(session, issue=True)
        resp = await client.delete(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
        got = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert got.status_code == 200 and got.json()["status"] == "cancelled"
        assert_problem(await client.delete(f"/api/v1/invoices/{invoice.id}", headers=billing),
                       409, "invalid_status_transition")
        assert await audit.count_events(session, action="cancel",
                                        entity_id=str(invoice.id)) == 1

    async def test_invoice_with_payments_cannot_be_cancelled(self, client, session, billing):
        invoice = await make_invoice(session, payments=["10.00"])
        resp = await client.delete(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert_problem(resp, 409, "invoice_has_payments")
        got = await client.get(f"/api/v1/invoices/{invoice.id}", headers=billing)
        assert got.json()["status"] == "partially_paid"


class TestDetails:
    async def _statements(self, client, db, headers, invoice_id) -> tuple[int, dict]:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        event.listen(db.engine.sync_engine, "after_cursor_execute", counter)
        try:
            resp = await client.get(f"/api/v1/invoices/{invoice_id}/details", headers=headers)
        finally:
            event.remove(db.engine.sync_engine, "after_cursor_execute", counter)
        assert resp.status_code == 200, resp.text
        return count, resp.json()

    async def test_details_load_patient_lines_payments_without_n_plus_1(
            self, client, session, db, billing):
        one = await make_invoice(session, lines=[("100.00", 1)], payments=["10.00"])
        five = await make_invoice(session, lines=[("100.00", 1)] * 5,
                                  payments=["10.00"] * 5)
        n1, body1 = await self._statements(client, db, billing, one.id)
        n5, body5 = await self._statements(client, db, billing, five.id)
        assert (len(body1["line_items"]), len(body1["payments"])) == (1, 1)
        assert (len(body5["line_items"]), len(body5["payments"])) == (5, 5)
        assert n1 == n5
        assert body5["patient"]["id"] == str(five.patient_id)
        assert "national_id" not in body5["patient"]
        assert body5["amount_paid"] == "50.00" and body5["balance_due"] == "450.00"
        assert body5["status"] == "partially_paid"
