"""Which prescriptions to sync: the exclusion rules of DOMAIN.md section 3, as a pure engine.

No ORM here: facts in, a suggestion out. The pharmacist confirms or overrides it
(patients.services.prescription_sync_decide), and who decided and when is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# Sig phrases that mean the dose is not fixed (tapers, titrations, sliding scales, dosing by a
# lab value). "Decrease"/"increase" count only when a dose follows ("increase to 2 tablets",
# "decrease by 5 mg"), never a purpose ("to decrease cholesterol", "increase fluids").
_DOSE_WORD = r"(\d|one|two|three|four|half|1/2)"
_VARIABLE_SIG = re.compile(
    r"\b(taper\w*|titrat\w*|wean\w*|sliding scale|correction (scale|dose)|"
    rf"then\s+({_DOSE_WORD}|take|use|inject|apply|inhale|instill|increase|decrease|reduce|stop)|"
    r"(days?|weeks?)\s+\d+\s*(-|to|through|thru)\s*\d+|week\s+(\d|one|two)\b|"
    rf"(increas|decreas|reduc)\w*\s+(the\s+|your\s+)?(dose|dosage|by|to\s+{_DOSE_WORD}|"
    rf"{_DOSE_WORD}|each|every|weekly|as tolerated)|"
    r"(per|based on|according to)\s+(inr|blood sugars?|bg|glucose|carbs?|weight|protocol|scale)|"
    r"units?\s+per\s+\d+\s*g\b|alternat\w*\s+(between\s+)?\d)",
    re.IGNORECASE,
)
# "As directed" is variable only when the sig states no fixed dose and frequency of its own
# ("use as directed" vs "take 1 tablet once daily as directed").
_AS_DIRECTED = re.compile(r"\b(as directed|as instructed|ud)\b", re.IGNORECASE)
_FIXED_DOSE = re.compile(
    rf"\b{_DOSE_WORD}\w*\s*(tab|cap|puff|unit|drop|ml|spray|patch|pen|inj|mg|mcg|g\b|applicat)",
    re.IGNORECASE,
)
_FIXED_FREQUENCY = re.compile(
    r"\b(daily|once|twice|three times|four times|every|q\s?\d+h?|qd|bid|tid|qid|qhs|qam|qpm|"
    r"at bedtime|a day|per day|weekly|each (morning|evening|night|day)|in the (morning|evening))\b",
    re.IGNORECASE,
)
# A course of a stated length: under 28 days it is acute ("for 5 days", "x 10 days",
# "for 2 weeks", "until gone"); "for 90 days" or "for 3 months" is a maintenance supply.
_COURSE = re.compile(r"\b(?:for|x)\s*(\d+)\s*(day|week|wk)s?\b", re.IGNORECASE)
_UNTIL_DONE = re.compile(
    r"\b(until (gone|finished|completed?|all taken)|single dose|one dose only)\b", re.IGNORECASE
)
SHORT_COURSE_DAYS = 28


def _variable_sig(sig: str) -> bool:
    if _VARIABLE_SIG.search(sig):
        return True
    return bool(_AS_DIRECTED.search(sig)) and not (
        _FIXED_DOSE.search(sig) and _FIXED_FREQUENCY.search(sig)
    )


def _short_course(sig: str) -> bool:
    if _UNTIL_DONE.search(sig):
        return True
    for number, unit in _COURSE.findall(sig):
        days = int(number) * (7 if unit.lower() in {"week", "wk"} else 1)
        if days < SHORT_COURSE_DAYS:
            return True
    return False


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
    if _variable_sig(facts.sig_text):
        return Suggestion(
            "excluded",
            "taper",
            "Taper or variable dose: the days supply cannot be planned.",
            notes,
        )
    if _short_course(facts.sig_text):
        return Suggestion(
            "excluded", "acute", "A course of a few days (the sig says so), not a refill.", notes
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
