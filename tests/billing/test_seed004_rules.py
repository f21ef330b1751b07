"""Seed 004 section 12 financial and entity rules: each broken rule is a 422 problem+json
whose ``errors`` name the field and the rule (``greater_than``, ``decimal_max_places``...)."""

from __future__ import annotations

import pytest

from hms.core.permissions import Role
from tests.billing.factories import make_consultation, make_invoice
from tests.identity.factories import auth_headers

PROBLEM = "application/problem+json"


def field_rules(resp) -> list[tuple[str, str]]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == "validation_error" and body["status"] == 422
    return [(e["field"], e["type"]) for e in body["errors"]]


@pytest.fixture
async def billing(client, session):
    return await auth_headers(client, session, Role.BILLING_OFFICER)


@pytest.mark.parametrize(("line", "field", "rule"), [
    ({"description": "x", "unit_price": "1.00", "quantity": 0}, "quantity", "greater_than_equal"),
    ({"description": "x", "unit_price": "1.00", "quantity": -2}, "quantity", "greater_than_equal"),
    ({"description": "x", "unit_price": "-0.01"}, "unit_price", "greater_than_equal"),
    ({"description": "x", "unit_price": "10.001"}, "unit_price", "decimal_max_places"),
])
async def test_invoice_line_rules_name_the_field(client, session, billing, line, field, rule):
    consultation = await make_consultation(session)
    resp = await client.post("/api/v1/invoices", headers=billing, json={
        "consultation_id": str(consultation.id), "line_items": [line]})
    rules = field_rules(resp)
    assert [f.rsplit(".", 1)[-1] for f, _ in rules] == [field]
    assert rules[0][1] == rule


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"quantity": 0}, "quantity", "greater_than_equal"),
    ({"unit_price": "-5.00"}, "unit_price", "greater_than_equal"),
    ({"unit_price": "5.555"}, "unit_price", "decimal_max_places"),
])
async def test_line_item_endpoint_rules_name_the_field(client, session, billing, change,
                                                       field, rule):
    invoice = await make_invoice(session)
    resp = await client.post("/api/v1/invoice-line-items", headers=billing, json={
        "invoice_id": str(invoice.id), "description": "Bandage", "quantity": 1,
        "unit_price": "2.50", **change})
    assert field_rules(resp) == [(field, rule)]


@pytest.mark.parametrize("field", ["tax_amount", "discount_amount"])
async def test_invoice_amounts_have_at_most_two_decimals(client, session, billing, field):
    consultation = await make_consultation(session)
    resp = await client.post("/api/v1/invoices", headers=billing, json={
        "consultation_id": str(consultation.id), field: "1.005",
        "line_items": [{"description": "Visit", "unit_price": "10.00"}]})
    assert field_rules(resp) == [(field, "decimal_max_places")]


@pytest.mark.parametrize(("amount", "rule"), [
    ("0.00", "greater_than"), ("-10.00", "greater_than"), ("1.001", "decimal_max_places")])
async def test_payment_amount_positive_with_two_decimals(client, session, billing, amount,
                                                         rule):
    invoice = await make_invoice(session, issue=True)
    resp = await client.post("/api/v1/payments", headers=billing, json={
        "invoice_id": str(invoice.id), "amount": amount, "payment_method": "cash"})
    assert field_rules(resp) == [("amount", rule)]


@pytest.mark.parametrize(("price", "rule"), [
    ("0", "greater_than"), ("-5.00", "greater_than"), ("10.005", "decimal_max_places")])
async def test_service_default_price_positive_with_two_decimals(client, session, price,
                                                                rule):
    admin = await auth_headers(client, session, Role.ADMIN)
    resp = await client.post("/api/v1/services", headers=admin, json={
        "name": "X-ray", "service_type": "imaging", "default_price": price})
    assert field_rules(resp) == [("default_price", rule)]
