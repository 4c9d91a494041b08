"""The sync exclusion rules of DOMAIN.md section 3."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.reconciliation import RxFacts, suggest_sync_decision

TODAY = dt.date(2026, 11, 25)


def facts(**overrides):
    base = dict(
        sig_text="Take 1 tablet by mouth daily",
        therapy_type="maintenance",
        status="active",
        dea_schedule="",
        generic_name="atorvastatin",
        is_antibiotic=False,
        is_specialty=False,
        unit_of_use=False,
        refills_remaining=5,
        expiration_date=dt.date(2027, 6, 1),
        state="WI",
    )
    return RxFacts(**{**base, **overrides})


@pytest.mark.parametrize(
    ("overrides", "decision", "reason"),
    [
        ({}, "synced", ""),
        ({"dea_schedule": "2", "generic_name": "oxycodone"}, "excluded", "schedule_ii"),
        (
            {"dea_schedule": "3", "generic_name": "hydrocodone/apap", "state": "NY"},
            "excluded",
            "controlled_state_rule",
        ),
        ({"dea_schedule": "3", "generic_name": "hydrocodone/apap", "state": "WI"}, "synced", ""),
        ({"dea_schedule": "3", "generic_name": "testosterone", "state": "NC"}, "synced", ""),
        (
            {"dea_schedule": "4", "generic_name": "alprazolam", "state": "OK"},
            "excluded",
            "controlled_state_rule",
        ),
        (
            {"dea_schedule": "4", "generic_name": "alprazolam", "state": "MN"},
            "excluded",
            "controlled_state_rule",
        ),
        ({"dea_schedule": "4", "generic_name": "alprazolam", "state": "TX"}, "synced", ""),
        ({"sig_text": "Take 1 tablet every 6 hours as needed for pain"}, "excluded", "prn"),
        ({"sig_text": "1 tab PRN headache"}, "excluded", "prn"),
        ({"therapy_type": "prn"}, "excluded", "prn"),
        ({"is_antibiotic": True, "generic_name": "amoxicillin"}, "excluded", "acute"),
        ({"therapy_type": "acute"}, "excluded", "acute"),
        ({"sig_text": "Take 4 tablets daily for 3 days then 2 tablets daily"}, "excluded", "taper"),
        ({"sig_text": "Taper as directed"}, "excluded", "taper"),
        ({"sig_text": "Inject per sliding scale"}, "excluded", "taper"),
        ({"is_specialty": True}, "excluded", "specialty"),
        ({"status": "on_hold"}, "excluded", "other"),
    ],
)
def test_the_exclusion_rules(overrides, decision, reason):
    suggestion = suggest_sync_decision(facts(**overrides), today=TODAY)
    assert (suggestion.decision, suggestion.reason) == (decision, reason)
    assert suggestion.explanation


def test_schedule_ii_wins_over_every_other_reason():
    suggestion = suggest_sync_decision(
        facts(dea_schedule="2", sig_text="1 tab q4h prn", is_specialty=True), today=TODAY
    )
    assert suggestion.reason == "schedule_ii"


def test_unit_of_use_is_synced_with_a_note_about_drift():
    suggestion = suggest_sync_decision(facts(unit_of_use=True), today=TODAY)
    assert suggestion.decision == "synced"
    assert any("not splittable" in note for note in suggestion.notes)


def test_renewal_notes_for_no_refills_and_near_expiry():
    suggestion = suggest_sync_decision(
        facts(refills_remaining=0, expiration_date=dt.date(2026, 12, 31)), today=TODAY
    )
    assert any("No refills left" in n for n in suggestion.notes)
    assert any("Expires 2026-12-31" in n for n in suggestion.notes)


def test_a_steady_daily_sig_with_the_word_daily_is_not_a_taper():
    for sig in [
        "Take 1 tablet twice daily",
        "Inhale 2 puffs every 12 hours",
        "Instill 1 drop in both eyes at bedtime",
        "Take 1 capsule every other day",
    ]:
        assert suggest_sync_decision(facts(sig_text=sig), today=TODAY).decision == "synced"


@given(
    schedule=st.sampled_from(["", "2", "3", "4", "5"]),
    state=st.sampled_from(["WI", "NY", "NC", "OK", "MN", "CO"]),
    antibiotic=st.booleans(),
    specialty=st.booleans(),
    therapy=st.sampled_from(["maintenance", "prn", "acute"]),
    sig=st.text(max_size=60),
)
def test_every_exclusion_has_a_reason_and_schedule_ii_is_never_synced(
    schedule, state, antibiotic, specialty, therapy, sig
):
    suggestion = suggest_sync_decision(
        facts(
            dea_schedule=schedule,
            state=state,
            is_antibiotic=antibiotic,
            is_specialty=specialty,
            therapy_type=therapy,
            sig_text=sig,
        ),
        today=TODAY,
    )
    assert suggestion.decision in {"synced", "excluded"}
    assert (suggestion.decision == "excluded") == bool(suggestion.reason)
    if schedule == "2":
        assert suggestion.decision == "excluded"
    if antibiotic or therapy in {"prn", "acute"}:
        assert suggestion.decision == "excluded"
