"""The pages' posts read through forms: same field names, and the same fallbacks and
messages the views had when they read request.POST by hand."""

from __future__ import annotations

from datetime import time

from messaging.forms import PatientConsentForm, ReplyForm, SimulateForm


def test_a_reply_with_an_unknown_outside_window_choice_falls_back_to_warn():
    for choice in ("", "later", None):
        data = {"body": "  Hello  "} | ({"outside_window": choice} if choice is not None else {})
        form = ReplyForm(data)
        assert form.is_valid()
        assert form.cleaned_data["outside_window"] == "warn"
        assert form.cleaned_data["body"] == "  Hello  "  # the service trims and checks it


def test_a_reply_keeps_send_and_hold():
    for choice in ("send", "hold"):
        form = ReplyForm({"body": "x", "outside_window": choice})
        assert form.is_valid() and form.cleaned_data["outside_window"] == choice


def test_a_simulated_text_is_trimmed_and_cut_to_320_characters():
    form = SimulateForm({"body": "  " + "y" * 400 + "  "})
    assert form.is_valid()
    assert form.cleaned_data["body"] == "y" * 320


def test_preferences_parse_the_window_times():
    form = PatientConsentForm(
        {"action": "preferences", "language": "es", "quiet_start": "09:00", "quiet_end": "20:30"}
    )
    assert form.is_valid()
    assert form.cleaned_data["quiet_start"] == time(9)
    assert form.cleaned_data["quiet_end"] == time(20, 30)


def test_preferences_with_a_bad_time_say_how_times_look():
    form = PatientConsentForm({"action": "preferences", "quiet_start": "nine", "quiet_end": "x"})
    assert not form.is_valid()
    assert list(form.errors) == ["quiet_start"]  # one at a time, the start first
    assert form.error_text() == "Times look like 08:00. Use HH:MM."


def test_other_actions_ignore_the_time_fields_and_cut_the_note():
    form = PatientConsentForm({"action": "withdraw", "quiet_start": "nine", "note": "n" * 400})
    assert form.is_valid()
    assert form.cleaned_data["note"] == "n" * 300
