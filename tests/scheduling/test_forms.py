"""The sync pages' forms read posts the way the pages always did (no database)."""

from __future__ import annotations

import datetime as dt

from django.http import QueryDict

from scheduling.forms import (
    EnrollWizardForm,
    PickupForm,
    PrepContactForm,
    ReplanDecisionForm,
    SyncSettingsForm,
)


def post(query: str) -> QueryDict:
    return QueryDict(query)


def cleaned(form_class, query: str) -> dict:
    form = form_class(post(query))
    assert form.is_valid(), form.errors
    return form.cleaned_data


def test_prep_answers_are_yes_no_or_unanswered():
    data = cleaned(
        PrepContactForm,
        "channel=phone&outcome=confirmed&new_medications=yes"
        "&stopped_medications=no&dose_changes=maybe",
    )
    assert (data["new_medications"], data["stopped_medications"]) == (True, False)
    assert data["dose_changes"] is None
    assert data["hospital_stay"] is None


def test_wizard_fields_left_out_take_their_defaults_but_empty_ones_stay_empty():
    data = cleaned(
        EnrollWizardForm, "prescriptions=a&prescriptions=b&cycle_days=x&contact_channel="
    )
    assert data["prescriptions"] == ["a", "b"]
    assert data["cycle_days"] is None
    assert (data["consent_relationship"], data["fulfillment"]) == ("self", "pickup")
    assert data["contact_channel"] == ""


def test_a_pickup_defaults_to_in_person_with_every_ticked_fill():
    data = cleaned(PickupForm, "partial=1&items=x&items=y")
    assert (data["partial"], data["items"], data["channel"]) == (True, ["x", "y"], "in_person")


def test_a_malformed_anchor_date_is_refused_with_the_pages_message():
    form = ReplanDecisionForm(post("anchor_date=03/09/2026"))
    assert not form.is_valid()
    assert form.first_error() == "Give the anchor date as YYYY-MM-DD."
    assert cleaned(ReplanDecisionForm, "anchor_date=2026-03-09")["anchor_date"] == dt.date(
        2026, 3, 9
    )


def test_settings_read_missing_numbers_as_zero_and_keep_only_weekday_digits():
    form = SyncSettingsForm(post("prep_days=5&prefill_days=&closed_weekdays=6&closed_weekdays=x"))
    assert form.is_valid()
    assert form.settings() == {
        "prep_days": 5,
        "prefill_days": 0,
        "closed_weekdays": [6],
        "missed_after_days": 0,
        "rts_warning_days": 0,
        "daily_anchor_capacity": None,
    }
