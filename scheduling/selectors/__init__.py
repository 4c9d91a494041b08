"""Reads of the sync engine that pages, the API, jobs and reports share.

Each list costs a fixed number of queries (select_related / prefetch_related);
tests assert it. Previews (plan_preview, anchor_options) write nothing.

    calendars  settings, timing, local today, anchor load
    patients   patients and prescriptions
    previews   plan preview and anchor options (write nothing)
    cycles     enrollments, cycles, worklists, the sync panel
    queue      the fill queue grouped by patient and cycle, and its version token
    renewals   a cycle's renewal requests and the packets sent to prescribers
"""

from scheduling.selectors.calendars import (
    anchor_load,
    pharmacies_with_settings,
    pharmacy_today,
    sync_settings_for,
    timing_of,
)
from scheduling.selectors.cycles import (
    SyncPanel,
    cycle_by_public_id,
    cycle_item_rows,
    cycle_items_by_public_ids,
    cycle_list,
    default_replan_anchor,
    enrollment_list,
    follow_up_tasks,
    item_by_public_id,
    open_enrollment_of,
    open_prep_cycle_for,
    open_prep_satellite_for,
    patient_sync_panel,
    prep_worklist,
    replan_queue,
    satellites_due,
)
from scheduling.selectors.patients import (
    chosen_prescriptions,
    ever_filled,
    home_pharmacy_of,
    medication_list,
    patient_by_public_id,
    synced_prescriptions,
)
from scheduling.selectors.previews import (
    AnchorOptions,
    PlanPreview,
    PlanRow,
    anchor_options,
    pharmacy_calendar,
    plan_preview,
)
from scheduling.selectors.queue import (
    SECTION_LABELS,
    QueueFilters,
    QueueGroup,
    QueuePage,
    attach_claims,
    fill_queue_page,
    fill_queue_version,
    queue_item,
)
from scheduling.selectors.renewals import renewal_packets, renewals_of_cycle

__all__ = [
    "SECTION_LABELS",
    "AnchorOptions",
    "PlanPreview",
    "PlanRow",
    "QueueFilters",
    "QueueGroup",
    "QueuePage",
    "SyncPanel",
    "anchor_load",
    "anchor_options",
    "attach_claims",
    "chosen_prescriptions",
    "cycle_by_public_id",
    "cycle_item_rows",
    "cycle_items_by_public_ids",
    "cycle_list",
    "default_replan_anchor",
    "enrollment_list",
    "ever_filled",
    "fill_queue_page",
    "fill_queue_version",
    "follow_up_tasks",
    "home_pharmacy_of",
    "item_by_public_id",
    "medication_list",
    "open_enrollment_of",
    "open_prep_cycle_for",
    "open_prep_satellite_for",
    "patient_by_public_id",
    "patient_sync_panel",
    "pharmacies_with_settings",
    "pharmacy_calendar",
    "pharmacy_today",
    "plan_preview",
    "prep_worklist",
    "queue_item",
    "renewal_packets",
    "renewals_of_cycle",
    "replan_queue",
    "satellites_due",
    "sync_settings_for",
    "synced_prescriptions",
    "timing_of",
]
