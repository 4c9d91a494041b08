"""The adherence section of the patient record page (registered in ReportsConfig.ready)."""

from django.utils import timezone

from patients.models import TherapeuticClass
from reports.pdc import STAR_CLASSES
from reports.selectors import ADHERENCE_WINDOW_DAYS, adherence_for_patient


def adherence_panel(request, patient):
    start, end, results = adherence_for_patient(patient, period_end=timezone.localdate())
    rows = [
        {
            "label": TherapeuticClass(klass).label if klass in TherapeuticClass.values else klass,
            "star": klass in STAR_CLASSES,
            "result": result,
        }
        for klass, result in results.items()
    ]
    return {
        "title": f"Adherence (PDC), last {ADHERENCE_WINDOW_DAYS} days",
        "template": "reports/_adherence_panel.html",
        "context": {"rows": rows, "start": start, "end": end},
    }
