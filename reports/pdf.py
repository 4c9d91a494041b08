"""The owner's one-page month summary as a PDF (fpdf2): the program's figures for one
month at the pharmacies in view, counts and money only (no patient is named)."""

from __future__ import annotations

import calendar
import datetime as dt

from fpdf import FPDF

from reports.program import money_report, program_report
from reports.scope import ReportScope


def month_start(value: str, today: dt.date) -> dt.date:
    """The first day of YYYY-MM (default: this month); ValueError if malformed."""
    if not value:
        return today.replace(day=1)
    first = dt.datetime.strptime(value, "%Y-%m").date()
    if not 2000 <= first.year <= 2099:
        raise ValueError("year out of range")
    return first


def _ascii(text: str) -> str:
    return text.replace("\u2026", "...").encode("latin-1", "replace").decode("latin-1")


def month_summary(scope: ReportScope, first: dt.date) -> bytes:
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    program = program_report(scope, first, last)
    money = money_report(scope, first, last)
    doc = FPDF(format="Letter")
    doc.set_title(f"Med sync summary {first:%B %Y}")
    doc.set_creator("MedSync")
    doc.add_page()
    doc.set_font("Helvetica", "B", 16)
    doc.cell(0, 10, _ascii(f"Med sync program: {first:%B %Y}"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 11)
    doc.cell(0, 7, _ascii(scope.label), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)

    def heading(text: str) -> None:
        doc.ln(2)
        doc.set_font("Helvetica", "B", 12)
        doc.cell(0, 8, _ascii(text), new_x="LMARGIN", new_y="NEXT")
        doc.set_font("Helvetica", "", 11)

    def line(label: str, value) -> None:
        doc.cell(120, 6, _ascii(label))
        doc.cell(0, 6, _ascii(str(value)), new_x="LMARGIN", new_y="NEXT")

    heading("Enrollment")
    for row in program.funnel:
        suffix = f" of {row['of']}" if "of" in row else ""
        line(row["label"], f"{row['value']}{suffix}")
    heading("Pickups")
    on_time = program.on_time
    line(
        "Picked up on time",
        f"{on_time['on_time']} of {on_time['cycles']}"
        + (f" ({on_time['rate']}%)" if on_time["rate"] is not None else ""),
    )
    line("Fills returned to stock", money.returned["fills"])
    line("  reversed within the payer's window", money.returned["in_time"])
    line("  late (recouped)", money.returned["late"])
    line("  claim dollars reversed in time", f"${money.returned['reversed_in_time']}")
    line("  claim dollars recouped late", f"${money.returned['recouped_late']}")
    heading("Patients")
    line("Short fills picked up", money.short_fills["fills"])
    line("What patients paid for them", f"${money.short_fills['patient_pay']}")
    for reason in program.reasons:
        line(f"Left: {reason['label']}", reason["value"])
    if not program.reasons:
        line("Patients who left the program", 0)
    heading("Prescriptions and revenue per synced patient")
    for month in money.months:
        line(
            f"{month['month']}: {month['synced_patients']} synced patients",
            f"{month['prescriptions_per_patient'] or 0} Rx, "
            f"${month['revenue_per_patient'] or 0} each",
        )
    doc.ln(4)
    doc.set_font("Helvetica", "I", 9)
    doc.multi_cell(0, 5, _ascii(f"Revenue: {money.source}. Generated {dt.date.today():%Y-%m-%d}."))
    return bytes(doc.output())
