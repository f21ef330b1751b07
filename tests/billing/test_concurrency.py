"""Billing under real concurrency (real commits, one connection per request): invoice
numbers stay unique and consecutive, concurrent payments never overpay an invoice."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hms.core.permissions import Role
from hms.db.session import unit_of_work
from tests.billing.factories import billing_actor, make_consultation, make_invoice
from tests.identity.factories import login, make_user


async def _headers(client, username: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + (await login(client, username))["access_token"]}


class TestConcurrentInvoices:
    async def test_twenty_invoices_at_once_get_twenty_consecutive_numbers(
            self, committed_client, db):
        async with unit_of_work(db) as s:
            officer = await make_user(s, Role.BILLING_OFFICER)
            consultation = await make_consultation(s)
        h = await _headers(committed_client, officer.username)
        body = {"consultation_id": str(consultation.id),
                "line_items": [{"description": "Visit", "unit_price": "10.00"}]}
        results = await asyncio.gather(*(
            committed_client.post("/api/v1/invoices", headers=h, json=body)
            for _ in range(20)))
        assert [r.status_code for r in results] == [201] * 20, [r.text for r in results
                                                                 if r.status_code != 201]
        numbers = [r.json()["invoice_number"] for r in results]
        assert len(set(numbers)) == 20
        prefixes = {n.rsplit("-", 1)[0] for n in numbers}
        assert len(prefixes) == 1
        seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
        assert seqs == list(range(seqs[0], seqs[0] + 20))
        listed = await committed_client.get("/api/v1/invoices", headers=h,
                                            params={"page_size": 100})
        assert listed.json()["total"] == 20


class TestConcurrentPayments:
    async def test_ten_payments_exceeding_the_balance_never_overpay(
            self, committed_client, db):
        async with unit_of_work(db) as s:
            officer = await make_user(s, Role.BILLING_OFFICER)
            actor = await billing_actor(s)
            invoice = await make_invoice(s, actor=actor, lines=[("100.00", 1)], issue=True)
        h = await _headers(committed_client, officer.username)
        amounts = ["30.00", "25.00", "40.00", "25.00", "30.00",
                   "25.00", "35.00", "25.00", "30.00", "20.00"]  # 285.00 against 100.00
        results = await asyncio.gather(*(
            committed_client.post("/api/v1/payments/process", headers=h, json={
                "invoice_id": str(invoice.id), "amount": a, "payment_method": "cash"})
            for a in amounts))
        codes = [r.status_code for r in results]
        assert set(codes) <= {201, 409, 422}, [r.text for r in results]
        for r in results:
            if r.status_code != 201:
                assert r.json()["code"] in {"payment_exceeds_balance", "invoice_not_payable"}
        accepted = sum((Decimal(a) for a, r in zip(amounts, results, strict=True)
                        if r.status_code == 201), Decimal("0.00"))
        assert Decimal("0.00") < accepted <= Decimal("100.00")
        got = (await committed_client.get(f"/api/v1/invoices/{invoice.id}",
                                          headers=h)).json()
        assert Decimal(got["amount_paid"]) == accepted
        assert Decimal(got["balance_due"]) == Decimal("100.00") - accepted >= 0
        assert got["status"] == ("paid" if accepted == Decimal("100.00")
                                 else "partially_paid")
        payments = (await committed_client.get("/api/v1/payments", headers=h, params={
            "invoice_id": str(invoice.id), "page_size": 100})).json()
        assert payments["total"] == codes.count(201)
        assert sum(Decimal(p["amount"]) for p in payments["items"]) == accepted
