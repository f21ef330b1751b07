"""Turning a report into a file: CSV (stdlib csv), XLSX (openpyxl) and PDF (reportlab).

Each report first becomes a neutral :class:`Document` (facts, tables, one chart); the three
writers only know documents. Pure functions, no I/O: they return bytes. Reports hold
aggregates only, so no patient data can reach a file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from hms.reports.schemas import (
    ClinicalAssessmentsRead,
    DashboardRead,
    ExportFormat,
    PatientStatisticsRead,
    ReportRange,
    VisitVolumeRead,
)

#: A table cell; money is a :class:`~decimal.Decimal` (a number with 2 places in XLSX).
Cell = str | int | float | Decimal | date | None
Report = DashboardRead | PatientStatisticsRead | VisitVolumeRead | ClinicalAssessmentsRead

TITLES = {
    "dashboard": "Dashboard",
    "patients_statistics": "Patient statistics",
    "visits_volume": "Visit volume",
    "clinical_assessments": "Clinical assessments",
}


@dataclass(frozen=True, slots=True)
class Table:
    """One section: a name, a header row and rows of cells."""

    name: str
    headers: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True, slots=True)
class Chart:
    """The report's main series, drawn as a vertical bar chart in the PDF."""

    title: str
    labels: list[str]
    values: list[int]


@dataclass(slots=True)
class Document:
    """What every writer renders: title, facts (report, range, generated at), tables,
    and optionally one chart."""

    title: str
    facts: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)
    chart: Chart | None = None


# --- reports -> documents ---

def _facts(title: str, generated_at: datetime, rng: ReportRange | None,
           as_of: date | None = None) -> list[tuple[str, str]]:
    facts = [("Report", title)]
    if rng is not None:
        facts += [("From", rng.start.isoformat()), ("To", rng.end.isoformat()),
                  ("Period", rng.period.value)]
    if as_of is not None:
        facts.append(("As of (UTC day)", as_of.isoformat()))
    facts.append(("Generated at (UTC)", generated_at.strftime("%Y-%m-%d %H:%M:%S")))
    return facts


def _pairs(name: str, headers: list[str], mapping: dict[str, Any]) -> Table:
    return Table(name, headers, [[str(k), v] for k, v in mapping.items()])


def _dashboard(r: DashboardRead) -> Document:
    title = TITLES["dashboard"]
    p, v, c, d = r.patients, r.visits, r.clinical, r.documents
    tables = [
        Table("Patients", ["Measure", "Value"], [
            ["Total patients", p.total], ["New today", p.new_today],
            ["New in the last 7 days", p.new_last_7_days],
            ["New in the last 30 days", p.new_last_30_days]]),
        Table("Visits", ["Measure", "Value"], [
            ["Active now (open + in progress)", v.active_now], ["Open now", v.open_now],
            ["In progress now", v.in_progress_now], ["Started today", v.started_today],
            ["Closed today", v.closed_today],
            ["Started in the last 7 days", v.started_last_7_days]]),
        Table("Clinical", ["Measure", "Value"], [
            ["Forms filled today", c.forms_filled_today],
            ["High fall-risk patients in active visits", c.high_fall_risk_active_visits],
            ["Out-of-range vital signs today", c.out_of_range_vitals_today],
            ["Documents uploaded today", d.uploaded_today],
            ["Documents uploaded in the last 7 days", d.uploaded_last_7_days]]),
        _pairs("Forms today by code", ["Form code", "Forms"], c.forms_filled_today_by_code),
    ]
    chart = Chart("Visits today and now",
                  ["Open now", "In progress now", "Started today", "Closed today"],
                  [v.open_now, v.in_progress_now, v.started_today, v.closed_today])
    return Document(title, _facts(title, r.generated_at, None, r.as_of), tables, chart)


def _patients(r: PatientStatisticsRead) -> Document:
    title = TITLES["patients_statistics"]
    series = r.new_patients_per_period
    tables = [
        Table("Summary", ["Measure", "Value"], [
            ["Patients registered up to the end of the range", r.total_patients],
            ["New patients in the range", r.new_patients]]),
        _pairs("By gender", ["Gender", "Patients"], r.by_gender),
        _pairs("By age band", ["Age band (years)", "Patients"], r.by_age_band),
        Table("New patients per period", ["Period", "From", "To", "New patients"],
              [[s.period, s.start, s.end, s.count] for s in series]),
    ]
    chart = Chart(f"New patients per {r.range.period.value}",
                  [s.period for s in series], [s.count for s in series])
    return Document(title, _facts(title, r.generated_at, r.range, r.as_of), tables, chart)


def _visits(r: VisitVolumeRead) -> Document:
    title = TITLES["visits_volume"]
    series = r.visits_per_period
    statuses = list(r.by_status)
    tables = [
        Table("Summary", ["Measure", "Value"], [["Visits started in the range",
                                                 r.total_visits]]),
        _pairs("By status", ["Status", "Visits"], r.by_status),
        _pairs("By department", ["Department", "Visits"], r.by_department),
        Table("Visits per period", ["Period", "From", "To", "Visits", *statuses],
              [[s.period, s.start, s.end, s.count, *(s.by_status.get(k, 0) for k in statuses)]
               for s in series]),
    ]
    chart = Chart(f"Visits per {r.range.period.value}",
                  [s.period for s in series], [s.count for s in series])
    return Document(title, _facts(title, r.generated_at, r.range), tables, chart)


def _flatten(prefix: str, value: Any) -> list[list[Cell]]:
    if isinstance(value, dict):
        rows: list[list[Cell]] = []
        for k, v in value.items():
            rows += _flatten(f"{prefix}.{k}" if prefix else str(k), v)
        return rows
    return [[prefix, value if isinstance(value, int | float) else str(value)]]


def _clinical(r: ClinicalAssessmentsRead) -> Document:
    title = TITLES["clinical_assessments"]
    tables = [
        Table("Summary", ["Measure", "Value"], [["Forms filled in the range",
                                                 r.forms_total]]),
        Table("Forms", ["Form code", "Status", "Forms"],
              [[code, status, n] for code, by_status in r.forms.items()
               for status, n in by_status.items()]),
        _pairs("Fall-risk bands", ["Morse band", "Assessments"], r.fall_risk_bands),
        _pairs("Pain scores", ["Pain score (0-10)", "Assessments"], r.pain_scores),
        Table("Out-of-range vitals", ["Measurement", "Count"],
              _flatten("", r.out_of_range_vitals)),
    ]
    chart = Chart("Pain scores (0-10 numeric rating scale)",
                  list(r.pain_scores), list(r.pain_scores.values()))
    return Document(title, _facts(title, r.generated_at, r.range), tables, chart)


def document_for(report: Report) -> Document:
    """The neutral document of a report (see :class:`Document`)."""
    if isinstance(report, DashboardRead):
        return _dashboard(report)
    if isinstance(report, PatientStatisticsRead):
        return _patients(report)
    if isinstance(report, VisitVolumeRead):
        return _visits(report)
    return _clinical(report)


# --- writers ---

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(value: str) -> str:
    """Neutralise spreadsheet formula injection: a department named ``=HYPERLINK(...)``
    must stay text (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return _safe_text(value)
    return value


def render_csv(doc: Document) -> bytes:
    """One UTF-8 CSV (with BOM, so spreadsheet programs detect the encoding): the facts as
    ``key,value`` rows, then each table as a title row, a header row and its rows, tables
    separated by an empty row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for key, value in doc.facts:
        writer.writerow([key, _safe_text(value)])
    for table in doc.tables:
        writer.writerow([])
        writer.writerow([_safe_text(table.name)])
        writer.writerow(table.headers)
        for row in table.rows:
            writer.writerow([_csv_cell(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _sheet_title(name: str, used: set[str]) -> str:
    cleaned = "".join("_" if ch in '[]:*?/\\' else ch for ch in name)[:31] or "Sheet"
    title, n = cleaned, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title, n = cleaned[: 31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def _xlsx_cell(value: Cell) -> Cell:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def render_xlsx(doc: Document) -> bytes:
    """An XLSX workbook: a ``Report`` sheet with the facts, then one sheet per table with a
    bold header row; numbers are numbers, dates are dates, text never becomes a formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    used: set[str] = set()
    ws.title = _sheet_title("Report", used)
    ws.append(["Field", "Value"])
    for key, value in doc.facts:
        ws.append([key, _xlsx_cell(value)])
    sheets = [ws]
    for table in doc.tables:
        sheet = wb.create_sheet(_sheet_title(table.name, used))
        sheet.append([_xlsx_cell(h) for h in table.headers])
        for row in table.rows:
            sheet.append([_xlsx_cell(c) for c in row])
        sheets.append(sheet)
    for sheet in sheets:
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        for column in sheet.columns:
            width = 10
            for cell in column:
                if isinstance(cell.value, str) and cell.data_type == "f":
                    # openpyxl treats a leading "=" as a formula; keep it as text.
                    cell.data_type = "s"
                if isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
                if isinstance(cell.value, Decimal):
                    cell.number_format = "0.00"
                width = max(width, min(60, len(str(cell.value or "")) + 2))
            letter = column[0].column_letter
            sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _bar_chart(chart: Chart, width: float, height: float) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, chart.title, fontName="Helvetica-Bold", fontSize=10))
    bars = VerticalBarChart()
    bars.x, bars.y = 36, 40
    bars.width, bars.height = width - 46, height - 70
    values = chart.values or [0]
    bars.data = [values]
    bars.bars[0].fillColor = colors.HexColor("#2f6f9f")
    top = max(values)
    bars.valueAxis.valueMin = 0
    bars.valueAxis.valueMax = max(1, top + max(1, top // 10))
    bars.valueAxis.valueStep = max(1, -(-bars.valueAxis.valueMax // 5))
    bars.valueAxis.labels.fontSize = 7
    step = max(1, -(-len(values) // 24))
    labels = chart.labels or [""]
    bars.categoryAxis.categoryNames = [lab if i % step == 0 else ""
                                       for i, lab in enumerate(labels)]
    bars.categoryAxis.labels.fontSize = 6
    bars.categoryAxis.labels.angle = 45 if len(values) > 8 else 0
    bars.categoryAxis.labels.boxAnchor = "ne" if len(values) > 8 else "n"
    drawing.add(bars)
    return drawing


def render_pdf(doc: Document) -> bytes:
    """A PDF (A4): title, the facts (range, generated at), the main series as a vertical
    bar chart, then every table (long tables continue on the next page with their header).
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle as PdfTableStyle

    styles = getSampleStyleSheet()
    out = io.BytesIO()
    pdf = SimpleDocTemplate(out, pagesize=A4, title=f"hms - {doc.title}", author="hms",
                            leftMargin=2 * cm, rightMargin=2 * cm,
                            topMargin=1.8 * cm, bottomMargin=1.8 * cm)
    story: list[Any] = [Paragraph(escape(f"hms - {doc.title}"), styles["Title"])]
    for key, value in doc.facts[1:]:
        story.append(Paragraph(f"<b>{escape(key)}:</b> {escape(value)}", styles["Normal"]))
    story.append(Spacer(1, 0.5 * cm))
    if doc.chart is not None:
        story.append(_bar_chart(doc.chart, pdf.width, 7 * cm))
        story.append(Spacer(1, 0.5 * cm))
    grid = PdfTableStyle([
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6ee")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ])
    for table in doc.tables:
        data: list[Sequence[Any]] = [table.headers]
        data += [["" if c is None else (c.isoformat() if isinstance(c, date) else str(c))
                  for c in row] for row in table.rows]
        if len(data) == 1:
            data.append(["(none)"] + [""] * (len(table.headers) - 1))
        heading = Paragraph(escape(table.name), styles["Heading3"])
        body = PdfTable(data, repeatRows=1, hAlign="LEFT")
        body.setStyle(grid)
        story += [KeepTogether([heading, body]) if len(data) < 30 else heading]
        if len(data) >= 30:
            story.append(body)
        story.append(Spacer(1, 0.4 * cm))
    pdf.build(story)
    return out.getvalue()


def render(report: Report, fmt: ExportFormat) -> bytes:
    """The bytes of ``report`` as ``fmt`` (csv, xlsx or pdf)."""
    doc = document_for(report)
    if fmt is ExportFormat.CSV:
        return render_csv(doc)
    if fmt is ExportFormat.XLSX:
        return render_xlsx(doc)
    return render_pdf(doc)
