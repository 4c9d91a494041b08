"""Pages of the sync engine: the fill queue (the technician's landing page), the prep
worklist, the enrollment list and wizard, each patient's sync panel, re-plans, follow-ups
and settings. Every post is read through a form of scheduling/forms.py.

Live parts use htmx: an action posts and gets back the fragment it changed. Without
htmx the same endpoints redirect back with a message.
"""

from scheduling.views.enrollment import (
    enroll_wizard,
    enrollment_action,
    enrollment_list,
    patient_invite,
    patient_sync_page,
    patient_sync_panel,
)
from scheduling.views.fill_queue import (
    cycle_pickup,
    cycle_return_to_stock,
    fill_queue,
    fill_queue_version,
    item_action,
)
from scheduling.views.prep import prep_contact, prep_worklist
from scheduling.views.renewals import (
    cycle_renewals,
    renewal_export,
    renewal_pdf,
    renewal_status,
)
from scheduling.views.replans import (
    replan_decide,
    replan_list,
    replan_request,
    sync_settings,
    task_list,
    task_resolve,
)

__all__ = [
    "cycle_pickup",
    "cycle_renewals",
    "cycle_return_to_stock",
    "enroll_wizard",
    "enrollment_action",
    "enrollment_list",
    "fill_queue",
    "fill_queue_version",
    "item_action",
    "patient_invite",
    "patient_sync_page",
    "patient_sync_panel",
    "prep_contact",
    "prep_worklist",
    "renewal_export",
    "renewal_pdf",
    "renewal_status",
    "replan_decide",
    "replan_list",
    "replan_request",
    "sync_settings",
    "task_list",
    "task_resolve",
]
