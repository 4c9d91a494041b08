"""Every write of the sync engine, one topic a module, re-exported here for callers.

    cycles         shared write helpers: store a plan, build a cycle and its items, events,
                   automated text requests, queueing the sweeps after a change
    enrollment     invite, enroll, pause, resume, disenroll
    prep           the prep contact before each anchor
    fill_queue     fill / verify / flag / skip, pickups, returns to stock, follow-ups
    claims         start a fill (its claim through billing), work a reject in one action
    replans        propose, approve, reject a change of plan
    renewals       renewal requests to prescribers: open, sent, approved, denied
    events_out     sync events for the pharmacy's systems (medsync.webhooks)
    sync_settings  a pharmacy's sync timing
    hooks          what messaging calls (the SMS reply handler, the open-question check)

Each write is keyword-only, atomic, and writes its audit entry explicitly. Imports among
these files go one way (cycles <- replans <- enrollment, prep <- hooks; cycles <- fill_queue);
the sweeps the jobs run live in scheduling/sweeps/, pure row builders in
scheduling/cycle_rows.py, reads in scheduling/selectors.py.
"""

from scheduling.services.claims import (
    CLAIM_FIXES,
    cycle_item_bill,
    cycle_item_move_to_next_anchor,
)
from scheduling.services.cycles import (
    build_cycle_items,
    cycle_event_record,
    cycle_first_create,
    cycle_reopen_for_anchor,
    message_context,
    message_request_record,
    plan_store,
    sweeps_schedule_after_commit,
)
from scheduling.services.enrollment import (
    enrollment_disenroll,
    enrollment_enroll,
    enrollment_invite,
    enrollment_pause,
    enrollment_resume,
)
from scheduling.services.fill_queue import (
    cycle_item_advance,
    cycle_items_return_to_stock,
    cycle_pickup_record,
    follow_up_resolve,
)
from scheduling.services.hooks import cycle_sms_reply, has_open_prep_question
from scheduling.services.prep import prep_contact_record, satellite_prep_answer_record
from scheduling.services.renewals import renewal_status_set, renewals_open
from scheduling.services.replans import replan_approve, replan_propose, replan_reject
from scheduling.services.sync_settings import sync_settings_update

__all__ = [
    "CLAIM_FIXES",
    "build_cycle_items",
    "cycle_event_record",
    "cycle_first_create",
    "cycle_item_advance",
    "cycle_item_bill",
    "cycle_item_move_to_next_anchor",
    "cycle_items_return_to_stock",
    "cycle_pickup_record",
    "cycle_reopen_for_anchor",
    "cycle_sms_reply",
    "enrollment_disenroll",
    "enrollment_enroll",
    "enrollment_invite",
    "enrollment_pause",
    "enrollment_resume",
    "follow_up_resolve",
    "has_open_prep_question",
    "message_context",
    "message_request_record",
    "plan_store",
    "prep_contact_record",
    "renewal_status_set",
    "renewals_open",
    "replan_approve",
    "replan_propose",
    "replan_reject",
    "satellite_prep_answer_record",
    "sweeps_schedule_after_commit",
    "sync_settings_update",
]
