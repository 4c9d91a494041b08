"""Which prescriptions to sync: the exclusion rules of DOMAIN.md section 3, as a pure engine.

No ORM here: facts in, a suggestion out. The pharmacist confirms or overrides it
(patients.services.prescription_sync_decide), and who decided and when is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# Sig phrases that mean the dose is not fixed (tapers, titrations, sliding scales).
_VARIABLE_SIG = re.compile(
    r"\b(taper\w*|titrat\w*|decreas\w*|increas\w*|sliding scale|as directed|"
    r"then\s+(\d|take|use|inject|apply)|for\s+\d+\s+days|days?\s+\d+\s*-\s*\d+)\b",
    re.IGNORECASE,
)
_PRN_SIG = re.compile(r"\b(prn|as needed|as-needed|when needed|if needed)\b", re.IGNORECASE)

# State laws that exclude more controlled substances from sync (DOMAIN 3).
_HYDROCODONE_CIII_STATES = {"NY", "NC"}
_CII_TO_CIV_STATES = {"OK", "MN"}


@dataclass(frozen=True)
class RxFacts:
    sig_text: str
    therapy_type: str  # maintenance | prn | acute
    status: str  # active | on_hold | discontinued | transferred
    dea_schedule: str  # "" or "2".."5"
    generic_name: str
    is_antibiotic: bool
    is_specialty: bool
    unit_of_use: bool
    refills_remaining: int
    expiration_date: dt.date
    state: str  # the pharmacy's state: whose sync law applies


@dataclass(frozen=True)
class Suggestion:
    decision: str  # synced | excluded
    reason: str  # an ExclusionReason value, "" when synced
    explanation: str
    notes: list[str] = field(default_factory=list)


def suggest_sync_decision(facts: RxFacts, *, today: dt.date) -> Suggestion:
    """Whether a prescription should join the sync, and why (the pharmacist confirms)."""
    notes = _notes(facts, today)
    if facts.status != "active":
        return Suggestion(
            "excluded", "other", f"Not active ({facts.status.replace('_', ' ')}).", notes
        )
    schedule = facts.dea_schedule
    if schedule == "2":
        return Suggestion(
            "excluded",
            "schedule_ii",
            "Schedule II: excluded from sync by state laws and CMS guidance; fill on its own.",
            notes,
        )
    if (
        schedule == "3"
        and facts.state in _HYDROCODONE_CIII_STATES
        and "hydrocodone" in facts.generic_name.lower()
    ):
        return Suggestion(
            "excluded",
            "controlled_state_rule",
            f"{facts.state} law excludes CIII hydrocodone products from sync.",
            notes,
        )
    if schedule in {"3", "4"} and facts.state in _CII_TO_CIV_STATES:
        return Suggestion(
            "excluded",
            "controlled_state_rule",
            f"{facts.state} law excludes Schedule II-IV drugs from sync.",
            notes,
        )
    if facts.therapy_type == "prn" or _PRN_SIG.search(facts.sig_text):
        return Suggestion("excluded", "prn", "Taken as needed: no fixed day supply.", notes)
    if facts.is_antibiotic or facts.therapy_type == "acute":
        return Suggestion(
            "excluded", "acute", "An acute course (e.g. an antibiotic), not a refill.", notes
        )
    if _VARIABLE_SIG.search(facts.sig_text):
        return Suggestion(
            "excluded",
            "taper",
            "Taper or variable dose: the days supply cannot be planned.",
            notes,
        )
    if facts.is_specialty:
        return Suggestion(
            "excluded",
            "specialty",
            "Specialty drug: usually dispensed by a designated pharmacy.",
            notes,
        )
    return Suggestion("synced", "", "A maintenance medication with a fixed daily dose.", notes)


def _notes(facts: RxFacts, today: dt.date) -> list[str]:
    notes = []
    if facts.unit_of_use:
        notes.append(
            "Original container: not splittable. Fills round up to whole packages and may drift; "
            "consider it as the anchor medication."
        )
    if facts.refills_remaining == 0:
        notes.append("No refills left: request a renewal from the prescriber.")
    if facts.expiration_date <= today + dt.timedelta(days=60):
        notes.append(f"Expires {facts.expiration_date.isoformat()}: plan a renewal.")
    return notes
