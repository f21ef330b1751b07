"""Seed 004 section 11 "Role-Based Access Control", bullet by bullet: every "cannot" is a
403 problem+json (``forbidden``) and every "can" is let through. The full route x role table
is tests/test_role_matrix.py; this file names the seed's own sentences."""

from __future__ import annotations

import uuid

import pytest

from hms.core.permissions import Role
from tests.identity.factories import auth_headers

PROBLEM = "application/problem+json"
ID = str(uuid.uuid4())
AD, PH, NU = Role.ADMIN, Role.PHYSICIAN, Role.NURSE
RE, BO = Role.RECEPTIONIST, Role.BILLING_OFFICER


async def _call(client, session, role, method, path):
    headers = await auth_headers(client, session, role)
    kwargs = {"json": {}} if method in {"POST", "PUT"} else {}
    return await client.request(method, "/api/v1" + path.replace("{id}", ID),
                                headers=headers, **kwargs)


async def _assert_forbidden(client, session, role, method, path):
    resp = await _call(client, session, role, method, path)
    assert resp.status_code == 403, (role, method, path, resp.text)
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert resp.json()["code"] == "forbidden"


class TestAdministrator:
    """Only administrators create, edit and deactivate accounts, configure departments and
    services, and read the audit logs."""

    @pytest.mark.parametrize(("role", "method", "path"), [
        (PH, "POST", "/users"), (NU, "PUT", "/users/{id}"), (RE, "DELETE", "/users/{id}"),
        (BO, "POST", "/users"),
    ])
    async def test_only_admins_manage_user_accounts(self, client, session, role, method,
                                                    path):
        await _assert_forbidden(client, session, role, method, path)

    @pytest.mark.parametrize(("role", "method", "path"), [
        (NU, "POST", "/departments"), (PH, "PUT", "/departments/{id}"),
        (BO, "POST", "/services"), (RE, "PUT", "/services/{id}"),
    ])
    async def test_only_admins_configure_departments_and_services(self, client, session,
                                                                  role, method, path):
        await _assert_forbidden(client, session, role, method, path)

    @pytest.mark.parametrize(("role", "path"), [
        (PH, "/audit-logs"), (NU, "/audit-logs"), (BO, "/audit-logs"), (RE, "/reports"),
        (NU, "/reports"), (PH, "/reports"),
    ])
    async def test_only_admins_read_audit_logs_and_all_reports(self, client, session, role,
                                                               path):
        await _assert_forbidden(client, session, role, "GET", path)

    @pytest.mark.parametrize("path", ["/users", "/audit-logs", "/reports", "/invoices",
                                      "/medical-records", "/consultations", "/lab-tests"])
    async def test_admin_reads_everything(self, client, session, path):
        resp = await _call(client, session, AD, "GET", path)
        assert resp.status_code == 200, (path, resp.text)


class TestDoctor:
    @pytest.mark.parametrize(("method", "path"), [
        ("GET", "/invoices"), ("POST", "/invoices"), ("GET", "/payments"),
        ("POST", "/payments"), ("GET", "/invoice-line-items"),
    ])
    async def test_cannot_access_billing(self, client, session, method, path):
        await _assert_forbidden(client, session, PH, method, path)

    @pytest.mark.parametrize(("method", "path"), [
        ("POST", "/users"), ("PUT", "/users/{id}"), ("DELETE", "/users/{id}")])
    async def test_cannot_modify_user_accounts(self, client, session, method, path):
        await _assert_forbidden(client, session, PH, method, path)

    @pytest.mark.parametrize("path", ["/consultations", "/prescriptions", "/lab-tests",
                                      "/medical-records"])
    async def test_views_clinical_records(self, client, session, path):
        resp = await _call(client, session, PH, "GET", path)
        assert resp.status_code == 200, (path, resp.text)


class TestNurse:
    @pytest.mark.parametrize(("method", "path"), [
        ("GET", "/medical-records/{id}"), ("GET", "/medical-records"),
        ("GET", "/patients/{id}/details"), ("PUT", "/medical-records/{id}"),
    ])
    async def test_cannot_view_detailed_medical_records(self, client, session, method,
                                                        path):
        await _assert_forbidden(client, session, NU, method, path)

    @pytest.mark.parametrize("path", ["/prescriptions", "/consultations", "/lab-tests"])
    async def test_cannot_create_prescriptions_consultations_or_order_labs(
            self, client, session, path):
        await _assert_forbidden(client, session, NU, "POST", path)

    @pytest.mark.parametrize("path", ["/appointments", "/patients", "/vital-signs"])
    async def test_views_appointments_and_basic_patient_information(self, client, session,
                                                                    path):
        resp = await _call(client, session, NU, "GET", path)
        assert resp.status_code == 200, (path, resp.text)


class TestReceptionist:
    @pytest.mark.parametrize(("method", "path"), [
        ("GET", "/medical-records/{id}"), ("GET", "/patients/{id}/details"),
        ("GET", "/consultations"), ("GET", "/prescriptions"),
    ])
    async def test_cannot_view_detailed_medical_records(self, client, session, method,
                                                        path):
        await _assert_forbidden(client, session, RE, method, path)

    @pytest.mark.parametrize(("method", "path"), [
        ("GET", "/invoices"), ("POST", "/invoices"), ("POST", "/payments"),
        ("GET", "/payments"),
    ])
    async def test_cannot_access_billing(self, client, session, method, path):
        await _assert_forbidden(client, session, RE, method, path)


class TestBillingOfficer:
    @pytest.mark.parametrize(("method", "path"), [
        ("PUT", "/medical-records/{id}"), ("POST", "/medical-records"),
        ("DELETE", "/medical-records/{id}"), ("GET", "/medical-records/{id}"),
    ])
    async def test_cannot_modify_medical_records(self, client, session, method, path):
        await _assert_forbidden(client, session, BO, method, path)

    @pytest.mark.parametrize(("method", "path"), [
        ("POST", "/prescriptions"), ("PUT", "/prescriptions/{id}"),
        ("POST", "/consultations"), ("PUT", "/consultations/{id}"),
    ])
    async def test_cannot_create_prescriptions_or_consultations(self, client, session,
                                                                method, path):
        await _assert_forbidden(client, session, BO, method, path)

    @pytest.mark.parametrize("path", ["/invoices", "/payments", "/reports"])
    async def test_reads_invoices_payments_and_reports(self, client, session, path):
        resp = await _call(client, session, BO, "GET", path)
        assert resp.status_code == 200, (path, resp.text)


@pytest.mark.parametrize(("role", "method", "path"), [
    (AD, "POST", "/prescriptions"), (AD, "PUT", "/prescriptions/{id}"),
    (AD, "POST", "/lab-tests"), (NU, "PUT", "/prescriptions/{id}"),
])
async def test_only_doctors_prescribe_and_order_lab_tests(client, session, role, method,
                                                          path):
    await _assert_forbidden(client, session, role, method, path)
