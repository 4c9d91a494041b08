"""The forms every page of the sync engine posts, one per action. They read and type the
posted fields (the same names the templates and browser tests use); the rules about the
values (ranges, choices, what a state allows) stay in the services, which report them as
SchedulingError fields, so a page shows an error the same way whichever layer found it.

Fields are lenient where the pages always were: a number that is not one reads as missing,
a yes/no question left unanswered reads as None, a field left out takes its default.
"""

from __future__ import annotations

from django import forms

from scheduling.models import ConsentRelationship, ContactChannel, EventChannel, Fulfillment


class LenientIntegerField(forms.Field):
    """An integer, or None when the field is empty or not a number."""

    def to_python(self, value):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None


class YesNoField(forms.Field):
    """A prep question's answer: True for "yes", False for "no", None when unanswered."""

    def to_python(self, value):
        return {"yes": True, "no": False}.get(value)


class ListField(forms.Field):
    """Every value posted under the name (ticked boxes, multiple selects)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        return [str(v) for v in value or []]


class IsoDateField(forms.DateField):
    """An optional YYYY-MM-DD date."""

    input_formats = ["%Y-%m-%d"]

    def __init__(self, *, invalid: str = "Give the date as YYYY-MM-DD.", **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(error_messages={"invalid": invalid}, **kwargs)


def _text(**kwargs) -> forms.CharField:
    return forms.CharField(required=False, strip=False, **kwargs)


class ActionForm(forms.Form):
    """Base: fields left out of the post take DEFAULTS (an empty field stays empty)."""

    DEFAULTS: dict = {}

    def clean(self):
        cleaned = super().clean()
        for name, default in self.DEFAULTS.items():
            if name not in self.data:
                cleaned[name] = default
        return cleaned

    def first_error(self) -> str:
        """The first error, as the pages show one message."""
        for errors in self.errors.values():
            return errors[0]
        return ""


# --- The fill queue ---


class ItemActionForm(ActionForm):
    flag_reason = _text()
    note = _text()
    # The version of the fill the page showed (optimistic concurrency) and, at the fill, the
    # package scanned or typed.
    version = LenientIntegerField(required=False)
    ndc = _text(max_length=80)
    pa_number = _text(max_length=40)


class QueueFilterForm(forms.Form):
    """The fill queue's filters (query string): section, anchor day, flagged/rejects only."""

    section = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Everything"),
            *((k, k) for k in ("to_fill", "flagged", "to_verify", "ready")),
        ],
    )
    anchor = IsoDateField(invalid="anchor: give the anchor date as YYYY-MM-DD.")
    attention = forms.BooleanField(required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)


class PickupForm(ActionForm):
    partial = forms.BooleanField(required=False)
    items = ListField(required=False)
    channel = _text()
    DEFAULTS = {"channel": EventChannel.IN_PERSON}


# --- The prep contact ---

PREP_QUESTIONS = (
    "new_medications",
    "stopped_medications",
    "dose_changes",
    "hospital_stay",
    "side_effects",
)


class PrepContactForm(ActionForm):
    channel = _text()
    outcome = _text()
    new_medications = YesNoField(required=False)
    stopped_medications = YesNoField(required=False)
    dose_changes = YesNoField(required=False)
    hospital_stay = YesNoField(required=False)
    side_effects = YesNoField(required=False)
    # The hospital stay's dates, when the patient gives them (recorded for PDC, DOMAIN 6).
    stay_admitted_on = IsoDateField()
    stay_discharged_on = IsoDateField()
    fulfillment = _text()
    notes = _text()


# --- Enrollment ---


class EnrollWizardForm(ActionForm):
    """All three steps of the wizard post the whole form; `step` says which was shown."""

    step = _text()
    prescriptions = ListField(required=False)
    cycle_days = LenientIntegerField(required=False)
    # "Use 28 days": the anchors step again with the cycle that keeps the preferred weekday.
    use_cycle_days = LenientIntegerField(required=False)
    preferred_weekday = LenientIntegerField(required=False)
    preferred_day_of_month = LenientIntegerField(required=False)
    anchor_date = _text()
    anchor_custom = _text()
    # Why an Rx reconciliation excluded is synced anyway (recorded as its sync decision).
    override_note = _text()
    consent_given_by = _text()
    consent_relationship = _text()
    consent_method = _text()
    fulfillment = _text()
    contact_channel = _text()
    DEFAULTS = {
        "consent_relationship": ConsentRelationship.SELF,
        "fulfillment": Fulfillment.PICKUP,
        "contact_channel": ContactChannel.SMS,
    }


class EnrollmentActionForm(ActionForm):
    """Pause (reason, until), disenroll (reason, note); resume and invite post nothing."""

    until = IsoDateField()
    reason = _text()
    note = _text()


# --- Re-plans, follow-ups, settings ---


class ReplanRequestForm(ActionForm):
    reason = _text()
    note = _text()


class ReplanDecisionForm(ActionForm):
    anchor_date = IsoDateField(invalid="Give the anchor date as YYYY-MM-DD.")
    cycle_days = LenientIntegerField(required=False)
    note = _text()


class TaskResolveForm(ActionForm):
    note = _text()


class SyncSettingsForm(ActionForm):
    """A number left empty or not a number reads as 0 (out of range: the service says so)."""

    pharmacy = _text()
    prep_days = LenientIntegerField(required=False)
    prefill_days = LenientIntegerField(required=False)
    closed_weekdays = ListField(required=False)
    missed_after_days = LenientIntegerField(required=False)
    rts_warning_days = LenientIntegerField(required=False)
    daily_anchor_capacity = LenientIntegerField(required=False)

    def clean_closed_weekdays(self):
        return [int(d) for d in self.cleaned_data["closed_weekdays"] if d.isdigit()]

    def settings(self) -> dict:
        """The keyword arguments of services.sync_settings_update."""
        data = self.cleaned_data
        return {
            "prep_days": data["prep_days"] or 0,
            "prefill_days": data["prefill_days"] or 0,
            "closed_weekdays": data["closed_weekdays"],
            "missed_after_days": data["missed_after_days"] or 0,
            "rts_warning_days": data["rts_warning_days"] or 0,
            "daily_anchor_capacity": data["daily_anchor_capacity"],
        }


# --- Renewal requests ---


class RenewalStatusForm(forms.Form):
    """Record what happened to a renewal request (the new prescription when approved)."""

    status = forms.ChoiceField(
        choices=[("sent", "Sent"), ("approved", "Approved"), ("denied", "Denied")]
    )
    new_prescription = forms.UUIDField(required=False)
    note = forms.CharField(max_length=300, required=False)
