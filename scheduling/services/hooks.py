"""What other apps call into scheduling through the registries it plugs into at ready():
messaging's SMS reply handler and its "is a prep question open?" check."""

from __future__ import annotations

from patients.models import Patient
from scheduling import selectors
from scheduling.models import (
    ContactOutcome,
    EventChannel,
)
from scheduling.services.prep import prep_contact_record, satellite_prep_answer_record


def cycle_sms_reply(patient: Patient, intent: str, message) -> bool:
    """messaging's reply handler: "C" confirms the open cycle, "X" reports changes; with no
    cycle in prep, the answer goes to the satellite (a prescription on its own rhythm) whose
    own prep reminder is open."""
    from messaging.registry import INTENT_CHANGE, INTENT_CONFIRM

    if intent == INTENT_CONFIRM:
        outcome = ContactOutcome.CONFIRMED
    elif intent == INTENT_CHANGE:
        outcome = ContactOutcome.CHANGES_REPORTED
    else:
        return False
    cycle = selectors.open_prep_cycle_for(patient)
    if cycle is None:
        satellite = selectors.open_prep_satellite_for(patient)
        if satellite is None:
            return False
        satellite_prep_answer_record(satellite=satellite, outcome=outcome)
        # A reported change needs a pharmacist's call: the text stays in the inbox unanswered.
        return outcome == ContactOutcome.CONFIRMED
    prep_contact_record(
        cycle=cycle,
        actor=None,
        channel=EventChannel.SMS,
        outcome=outcome,
        notes="Replied by text.",
    )
    return True


def has_open_prep_question(patient: Patient) -> bool:
    """messaging asks this before reading a bare "yes" as a confirmation."""
    return (
        selectors.open_prep_cycle_for(patient) is not None
        or selectors.open_prep_satellite_for(patient) is not None
    )
