"""Issue 10 defect 6: reconciliation's sig rules on real-world sigs (DOMAIN.md section 3).

Maintenance sigs that merely mention a purpose ("to decrease cholesterol"), a supply length of a
maintenance fill ("for 90 days"), "as directed" after a fixed dose, or advice ("Increase fluids")
are synced; tapers, titrations, doses by a lab value, PRN and short courses are excluded.
"""

import datetime as dt

import pytest

from patients.reconciliation import RxFacts, suggest_sync_decision

TODAY = dt.date(2026, 11, 25)

SYNC = ("synced", "")
TAPER = ("excluded", "taper")
PRN = ("excluded", "prn")
ACUTE = ("excluded", "acute")

SIGS = [
    # The four the issue names (maintenance, once flagged "taper").
    ("Take 1 tablet by mouth daily to decrease cholesterol", SYNC),
    ("Take 1 tablet by mouth daily for 90 days", SYNC),
    ("Take 1 tablet by mouth once daily as directed", SYNC),
    ("Take 1 tablet by mouth daily. Increase fluids", SYNC),
    # Everyday maintenance sigs.
    ("Take 1 tablet by mouth twice daily with meals", SYNC),
    ("Take 1 tablet by mouth at bedtime", SYNC),
    ("Take 2 tablets by mouth every morning", SYNC),
    ("Take 1/2 tablet by mouth daily", SYNC),
    ("Take 1 capsule by mouth every other day", SYNC),
    ("Take 1 tablet by mouth once a week on Sunday", SYNC),
    ("1 tab po qd", SYNC),
    ("1 tab po bid", SYNC),
    ("Take 1 tablet by mouth daily to reduce blood pressure", SYNC),
    ("Take 1 tablet by mouth daily to help decrease swelling", SYNC),
    ("Take 1 tablet daily to increase urine output; limit salt", SYNC),
    ("Take 1 tablet by mouth daily for 3 months", SYNC),
    ("Inhale 2 puffs by mouth twice daily. Rinse mouth after use", SYNC),
    ("Instill 1 drop in each eye at bedtime", SYNC),
    ("Inject 20 units under the skin once daily at bedtime", SYNC),
    ("Inject 0.25 mg under the skin once weekly", SYNC),
    ("Apply 1 patch to skin every 72 hours", SYNC),
    ("Take 1 capsule by mouth daily as directed by your doctor", SYNC),
    ("Take 1 tablet by mouth daily on an empty stomach, 30 minutes before breakfast", SYNC),
    ("Take 1 tablet by mouth three times daily", SYNC),
    # Tapers, titrations and variable doses.
    ("Take 4 tablets daily for 3 days then 2 tablets daily for 3 days then stop", TAPER),
    ("Taper as directed", TAPER),
    ("Take 1 tablet daily for 1 week, then increase to 2 tablets daily", TAPER),
    ("Take 1 tablet daily; increase by 1 tablet every week as tolerated", TAPER),
    ("Decrease dose by 5 mg every 3 days", TAPER),
    ("Titrate up to 1000 mg twice daily as tolerated", TAPER),
    ("Inject per sliding scale before meals", TAPER),
    ("Inject 1 unit per 15 g carbohydrate with meals", TAPER),
    ("Take as directed per INR", TAPER),
    ("Use as directed", TAPER),
    ("Take as directed", TAPER),
    ("Days 1-7: 1 tablet daily; days 8-14: 2 tablets daily", TAPER),
    ("Week 1: 0.25 mg weekly, week 2: 0.5 mg weekly", TAPER),
    ("Alternate 1 tablet and 2 tablets every other day", TAPER),
    ("Wean off over 2 weeks", TAPER),
    # As needed.
    ("Take 1 tablet every 6 hours as needed for pain", PRN),
    ("1 tab PRN headache", PRN),
    ("Inhale 2 puffs every 4 hours if needed for wheezing", PRN),
    # Short courses.
    ("Take 1 tablet by mouth daily for 5 days", ACUTE),
    ("Take 1 capsule by mouth twice daily x 10 days", ACUTE),
    ("Take 1 tablet by mouth daily for 2 weeks", ACUTE),
    ("Take 2 tablets on day 1, then 1 tablet daily until gone", TAPER),
    ("Take 1 capsule three times daily until finished", ACUTE),
]


def facts(sig: str) -> RxFacts:
    return RxFacts(
        sig_text=sig,
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


def test_the_table_is_at_least_forty_sigs():
    assert len(SIGS) >= 40


@pytest.mark.parametrize(("sig", "expected"), SIGS, ids=[s for s, _ in SIGS])
def test_sig_decision(sig, expected):
    suggestion = suggest_sync_decision(facts(sig), today=TODAY)
    assert (suggestion.decision, suggestion.reason) == expected
    if suggestion.decision == "excluded":
        assert suggestion.explanation
