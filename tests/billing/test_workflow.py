"""The HCMS billing workflow on the real clinical path (seed 004 section 10): an appointment
is checked in, vitals recorded, the consultation completed by the doctor; the billing
officer then generates the invoice from the appointment, issues it and takes payments."""

from __future__ import annotations

from hms.core.permissions import Role
from tests.billing.factories import make_service
from tests.billing.test_invoices import assert_problem
from tests.clinical.factories import completed, in_consultation
from tests.identity.factories import auth_headers


class TestInvoiceGenerationWorkflow:
    async def test_consultation_to_paid_invoice(self, client, session):
        care = await completed(client, session)
        service = await make_service(session, name="Outpatient consultation",
                                     default_price="80.00")
        billing = await auth_headers(client, session, Role.BILLING_OFFICER)
        created = await client.post("/api/v1/invoices", headers=billing, json={
            "appointment_id": care.appointment_id,
            "line_items": [{"service_id": str(service.id)},
                           {"description": "Spirometry", "unit_price": "45.50"}],
            "tax_amount": "5.00", "discount_amount": "10.50"})
        assert created.status_code == 201, created.text
        invoice = created.json()
        assert invoice["consultation_id"] == care.consultation_id
        assert invoice["appointment_id"] == care.appointment_id
        assert invoice["patient_id"] == str(care.patient_id)
        assert invoice["total_amount"] == "120.00"
        issued = await client.post(f"/api/v1/invoices/{invoice['id']}/issue", headers=billing)
        assert issued.status_code == 200 and issued.json()["status"] == "issued"
        paid = await client.post("/api/v1/payments/process", headers=billing, json={
            "invoice_id": invoice["id"], "amount": "120.00", "payment_method": "INSURANCE"})
        assert paid.status_code == 201, paid.text
        assert paid.json()["invoice"]["status"] == "paid"
        details = await client.get(f"/api/v1/invoices/{invoice['id']}/details",
                                   headers=billing)
        assert details.json()["patient"]["id"] == str(care.patient_id)
        assert [p["amount"] for p in details.json()["payments"]] == ["120.00"]

    async def test_consultation_in_progress_cannot_be_billed(self, client, session):
        care = await in_consultation(client, session)
        billing = await auth_headers(client, session, Role.BILLING_OFFICER)
        by_appointment = await client.post("/api/v1/invoices", headers=billing, json={
            "appointment_id": care.appointment_id})
        assert_problem(by_appointment, 422, "consultation_not_completed")
        by_consultation = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": care.consultation_id})
        assert_problem(by_consultation, 422, "consultation_not_completed")

    async def test_appointment_must_be_the_consultations(self, client, session):
        care = await completed(client, session)
        other = await completed(client, session)
        billing = await auth_headers(client, session, Role.BILLING_OFFICER)
        resp = await client.post("/api/v1/invoices", headers=billing, json={
            "consultation_id": care.consultation_id, "appointment_id": other.appointment_id})
        assert_problem(resp, 422, "consultation_mismatch")
