"""The seven seed 004 report files: figures from the owning modules' ``report_queries``,
laid out as a :class:`~hms.reports.render.Document` for the PDF and XLSX writers.

Each module computes its own figures (``hms.<module>.report_queries``); this module only
resolves names (doctors, departments) through the owning services and lays out tables.
Aggregates only: no patient's name, number or identifier reaches a file. Days are UTC
calendar days; ``start``/``end`` are inclusive.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.reports.periods import day_bounds
from hms.reports.render import Cell, Chart, Document, Table
from hms.reports.schemas import HcmsReportType

TITLES: dict[HcmsReportType, str] = {
    HcmsReportType.PATIENT_STATISTICS: "Patient statistics",
    HcmsReportType.REVENUE: "Revenue",
    HcmsReportType.APPOINTMENT_SUMMARY: "Appointment summary",
    HcmsReportType.SERVICE_UTILIZATION: "Service utilization",
    HcmsReportType.DOCTOR_PERFORMANCE: "Doctor performance",
    HcmsReportType.BILLING_SUMMARY: "Billing summary",
    HcmsReportType.OPERATIONAL_METRICS: "Operational metrics",
}

UNASSIGNED = "(no department)"


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """What to build: the type, the inclusive day range, the stored parameters, the
    report's name and the instant it is generated at (``today`` is its UTC day)."""

    report_type: HcmsReportType
    start: date
    end: date
    report_name: str
    parameters: dict[str, Any]
    generated_at: datetime

    @property
    def today(self) -> date:
        """The UTC day the report is generated on (overdue invoices are judged on it)."""
        return self.generated_at.date()

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """``[start 00:00 UTC, end + 1 day 00:00 UTC)``."""
        return day_bounds(self.start, self.end)


def _facts(spec: ReportSpec) -> list[tuple[str, str]]:
    facts = [("Report", TITLES[spec.report_type]), ("Name", spec.report_name),
             ("Report type", spec.report_type.value), ("From", spec.start.isoformat()),
             ("To", spec.end.isoformat()),
             ("Generated at (UTC)", spec.generated_at.strftime("%Y-%m-%d %H:%M:%S"))]
    if spec.parameters:
        facts.append(("Parameters", json.dumps(spec.parameters, sort_keys=True,
                                               default=str)))
    return facts


def _doc(spec: ReportSpec, tables: list[Table], chart: Chart | None = None) -> Document:
    return Document(TITLES[spec.report_type], _facts(spec), tables, chart)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def _name(user: Any) -> str:
    first = getattr(user, "first_name", None) or ""
    last = getattr(user, "last_name", None) or ""
    full = f"{first} {last}".strip()
    return full or str(getattr(user, "full_name", None) or getattr(user, "username", ""))


async def _department_names(session: AsyncSession, ids: list[uuid.UUID | None]
                            ) -> dict[uuid.UUID | None, str]:
    from hms.organization import service as organization

    found = await organization.departments_by_ids(session, [i for i in ids if i])
    return {i: (found[i].name if i in found else str(i)) if i else UNASSIGNED for i in ids}


# --- the seven reports -----------------------------------------------------------------

async def patient_statistics(session: AsyncSession, spec: ReportSpec) -> Document:
    """New registrations in the range, by gender and age band (age at the last day), per
    day, and the active patients registered up to the end of the range."""
    from hms.patients import report_queries as q

    since, before = spec.bounds
    figures = await q.patient_statistics(session, since=since, before=before, as_of=spec.end)
    per_day: dict[date, int] = figures["new_per_day"]
    days = _days(spec.start, spec.end)
    tables = [
        Table("Summary", ["Measure", "Value"], [
            ["New registrations", figures["new_registrations"]],
            ["Active patients registered up to the end of the range",
             figures["total_registered"]]]),
        Table("New by gender", ["Gender", "New patients"],
              [[k, v] for k, v in figures["new_by_gender"].items()]),
        Table("New by age band", ["Age band (years)", "New patients"],
              [[k, v] for k, v in figures["new_by_age_band"].items()]),
        Table("New per day", ["Day", "New patients"],
              [[d, per_day.get(d, 0)] for d in days]),
    ]
    chart = Chart("New registrations per day", [d.isoformat() for d in days],
                  [per_day.get(d, 0) for d in days])
    return _doc(spec, tables, chart)


async def revenue(session: AsyncSession, spec: ReportSpec) -> Document:
    """Payments received in the range: total, by method, and by day and method."""
    from hms.billing import report_queries as q

    since, before = spec.bounds
    figures = await q.revenue(session, since=since, before=before)
    by_day: dict[date, dict[str, dict[str, Any]]] = figures["by_day"]
    day_rows: list[list[Cell]] = []
    for day, methods in by_day.items():
        for method, fig in sorted(methods.items()):
            day_rows.append([day, method, fig["count"], fig["amount"]])
    days = _days(spec.start, spec.end)
    tables = [
        Table("Summary", ["Measure", "Value"], [
            ["Total revenue", figures["total"]], ["Payments", figures["payments"]]]),
        Table("By method", ["Payment method", "Payments", "Amount"],
              [[m, f["count"], f["amount"]] for m, f in sorted(figures["by_method"].items())]),
        Table("By day and method", ["Day", "Payment method", "Payments", "Amount"], day_rows),
    ]
    chart = Chart("Revenue per day (whole currency units)", [d.isoformat() for d in days],
                  [int(sum((f["amount"] for f in by_day.get(d, {}).values()), Decimal(0)))
                   for d in days])
    return _doc(spec, tables, chart)


async def appointment_summary(session: AsyncSession, spec: ReportSpec) -> Document:
    """Appointments dated within the range: by status, type and department, per day."""
    from hms.scheduling import report_queries as q

    figures = await q.appointment_summary(session, start=spec.start, end=spec.end)
    names = await _department_names(session, list(figures["by_department"]))
    by_department = sorted(((names[k], v) for k, v in figures["by_department"].items()),
                           key=lambda kv: (-kv[1], kv[0]))
    per_day: dict[date, int] = figures["per_day"]
    days = _days(spec.start, spec.end)
    tables = [
        Table("Summary", ["Measure", "Value"], [["Appointments", figures["total"]]]),
        Table("By status", ["Status", "Appointments"],
              [[k, v] for k, v in sorted(figures["by_status"].items())]),
        Table("By type", ["Appointment type", "Appointments"],
              [[k, v] for k, v in sorted(figures["by_type"].items())]),
        Table("By department", ["Department", "Appointments"],
              [[k, v] for k, v in by_department]),
    ]
    chart = Chart("Appointments per day", [d.isoformat() for d in days],
                  [per_day.get(d, 0) for d in days])
    return _doc(spec, tables, chart)


async def service_utilization(session: AsyncSession, spec: ReportSpec) -> Document:
    """Billed line items per catalogue service (invoices dated within the range, not
    drafts, not cancelled): line count, quantity and revenue."""
    from hms.billing import report_queries as q

    rows = await q.service_utilization(session, start=spec.start, end=spec.end)
    tables = [
        Table("Summary", ["Measure", "Value"], [
            ["Services used", sum(1 for r in rows if r["service_id"] is not None)],
            ["Line items", sum(r["line_items"] for r in rows)],
            ["Quantity", sum(r["quantity"] for r in rows)],
            ["Revenue", sum((r["revenue"] for r in rows), Decimal("0.00"))]]),
        Table("By service", ["Service", "Type", "Line items", "Quantity", "Revenue"],
              [[r["service_name"], r["service_type"], r["line_items"], r["quantity"],
                r["revenue"]] for r in rows]),
    ]
    top = rows[:20]
    chart = Chart("Quantity per service", [r["service_name"][:20] for r in top],
                  [r["quantity"] for r in top])
    return _doc(spec, tables, chart)


async def doctor_performance(session: AsyncSession, spec: ReportSpec) -> Document:
    """Per doctor: appointments dated within the range (completed, no-show, cancelled),
    consultations held, prescriptions written and lab tests ordered within it."""
    from hms.clinical import report_queries as clinical_q
    from hms.identity import service as identity
    from hms.lab import report_queries as lab_q
    from hms.scheduling import report_queries as scheduling_q

    since, before = spec.bounds
    appts = await scheduling_q.doctor_appointment_counts(session, start=spec.start,
                                                         end=spec.end)
    clinical = await clinical_q.doctor_clinical_counts(session, since=since, before=before,
                                                       start=spec.start, end=spec.end)
    labs = await lab_q.orders_per_doctor(session, since=since, before=before)
    doctor_ids = set(appts) | set(clinical) | set(labs)
    users = await identity.users_by_ids(session, doctor_ids)
    figures: list[tuple[str, list[int]]] = []
    for doctor_id in doctor_ids:
        a = appts.get(doctor_id, {})
        c = clinical.get(doctor_id, {})
        user = users.get(doctor_id)
        figures.append((_name(user) if user else str(doctor_id), [
            a.get("appointments", 0), a.get("completed", 0), a.get("no_show", 0),
            a.get("cancelled", 0), c.get("consultations", 0),
            c.get("consultations_completed", 0), c.get("prescriptions", 0),
            labs.get(doctor_id, 0)]))
    figures.sort(key=lambda f: (-f[1][0], f[0]))
    rows: list[list[Cell]] = [[name, *counts] for name, counts in figures]
    tables = [Table("By doctor", [
        "Doctor", "Appointments", "Completed", "No-show", "Cancelled", "Consultations",
        "Consultations completed", "Prescriptions", "Lab tests ordered"], rows)]
    chart = Chart("Appointments per doctor", [name[:20] for name, _ in figures[:20]],
                  [counts[0] for _, counts in figures[:20]])
    return _doc(spec, tables, chart)


async def billing_summary(session: AsyncSession, spec: ReportSpec) -> Document:
    """Invoices dated within the range: by status (overdue judged on the generation day),
    invoiced, collected, outstanding and overdue amounts."""
    from hms.billing import report_queries as q

    f = await q.billing_summary(session, start=spec.start, end=spec.end, today=spec.today)
    by_status = sorted(f["by_status"].items())
    tables = [
        Table("Summary", ["Measure", "Value"], [
            ["Invoices", f["invoices"]], ["Invoiced", f["invoiced"]],
            ["Collected", f["collected"]], ["Outstanding", f["outstanding"]],
            ["Overdue invoices", f["overdue_count"]], ["Overdue amount", f["overdue"]]]),
        Table("By status", ["Status", "Invoices", "Total"],
              [[k, v["count"], v["total"]] for k, v in by_status]),
    ]
    chart = Chart("Invoices by status", [k for k, _ in by_status],
                  [v["count"] for _, v in by_status])
    return _doc(spec, tables, chart)


async def operational_metrics(session: AsyncSession, spec: ReportSpec) -> Document:
    """Check-in to consultation wait (minutes), lab turnaround (hours, ordered to
    result), no-show rate (no-shows over appointments not cancelled) and visits opened,
    over the range."""
    from hms.lab import report_queries as lab_q
    from hms.scheduling import report_queries as scheduling_q
    from hms.visits import stats as visits_stats

    since, before = spec.bounds
    ops = await scheduling_q.operational_figures(session, start=spec.start, end=spec.end)
    lab = await lab_q.turnaround(session, since=since, before=before)
    visits = await visits_stats.count_started(session, since=since, before=before)
    rate = ops["no_show_rate"]
    rows: list[list[Cell]] = [
        ["Appointments", ops["appointments"]],
        ["Appointments checked in", ops["checked_in"]],
        ["Average wait, check-in to consultation (minutes)", _round(ops["wait_minutes_avg"])],
        ["Longest wait, check-in to consultation (minutes)", _round(ops["wait_minutes_max"])],
        ["Waits measured", ops["wait_samples"]],
        ["No-shows", ops["no_show"]],
        ["No-show rate (%)", None if rate is None else round(rate * 100, 1)],
        ["Lab tests ordered", lab["ordered"]],
        ["Lab tests completed", lab["completed"]],
        ["Average lab turnaround (hours)", _round(lab["turnaround_hours_avg"])],
        ["Longest lab turnaround (hours)", _round(lab["turnaround_hours_max"])],
        ["Visits opened", visits],
    ]
    tables = [Table("Metrics", ["Metric", "Value"], rows)]
    chart = Chart("Activity in the range",
                  ["Appointments", "Checked in", "No-shows", "Lab tests", "Visits"],
                  [ops["appointments"], ops["checked_in"], ops["no_show"], lab["ordered"],
                   visits])
    return _doc(spec, tables, chart)


BUILDERS: dict[HcmsReportType, Callable[[AsyncSession, ReportSpec], Awaitable[Document]]] = {
    HcmsReportType.PATIENT_STATISTICS: patient_statistics,
    HcmsReportType.REVENUE: revenue,
    HcmsReportType.APPOINTMENT_SUMMARY: appointment_summary,
    HcmsReportType.SERVICE_UTILIZATION: service_utilization,
    HcmsReportType.DOCTOR_PERFORMANCE: doctor_performance,
    HcmsReportType.BILLING_SUMMARY: billing_summary,
    HcmsReportType.OPERATIONAL_METRICS: operational_metrics,
}


async def build_document(session: AsyncSession, spec: ReportSpec) -> Document:
    """The document of ``spec`` (no audit; the caller records the generation)."""
    return await BUILDERS[spec.report_type](session, spec)
