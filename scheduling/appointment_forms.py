"""The forms the appointment pages post: book, document a service, answer an offer.

Times are entered in the pharmacy's local time; the forms turn them into aware datetimes.
Rules about the values (end after start, double booking, codes) stay in the services, which
report them as ValidationError fields that the page shows beside the field.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms

from billing.models import MedicalPayer
from patients.models import Coverage
from scheduling.models import AppointmentKind, OfferAnswer, OfferKind, OfferPlace
from scheduling.models.appointments import DEFAULT_MINUTES


class BookForm(forms.Form):
    pharmacy = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    pharmacist = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    kind = forms.ChoiceField(choices=AppointmentKind.choices)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    minutes = forms.IntegerField(min_value=5, max_value=240, initial=30)
    room = forms.CharField(max_length=40, required=False)

    def __init__(self, *args, pharmacies, pharmacists, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pharmacy"].queryset = pharmacies
        self.fields["pharmacist"].queryset = pharmacists
        kind = self.initial.get("kind")
        if kind in DEFAULT_MINUTES:
            self.fields["minutes"].initial = DEFAULT_MINUTES[kind]

    def times(self) -> tuple[dt.datetime, dt.datetime]:
        data = self.cleaned_data
        zone = ZoneInfo(data["pharmacy"].time_zone)
        starts = dt.datetime.combine(data["day"], data["time"], tzinfo=zone)
        return starts, starts + dt.timedelta(minutes=data["minutes"])


class DiagnosisCodesField(forms.CharField):
    """ICD-10-CM codes separated by commas or spaces (checked by the service)."""

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [code for code in text.replace(",", " ").split() if code]


class DocumentForm(forms.Form):
    started = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ended = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    new_patient = forms.BooleanField(required=False, initial=True, label="New patient (99605)")
    assessed = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    findings = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    actions = forms.CharField(
        label="Done or recommended", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    diagnosis_codes = DiagnosisCodesField(
        required=False, max_length=120, help_text="ICD-10-CM, e.g. E11.9 I10"
    )
    procedure_code = forms.CharField(
        required=False, max_length=5, help_text="Vaccines and tests: the CPT/HCPCS code"
    )
    follow_up = forms.CharField(required=False, max_length=500)
    follow_up_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    payer = forms.ModelChoiceField(
        queryset=MedicalPayer.objects.none(), required=False, to_field_name="public_id"
    )
    coverage = forms.ModelChoiceField(
        queryset=Coverage.objects.none(), required=False, to_field_name="public_id"
    )

    def __init__(self, *args, zone: str, payers, coverages, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(zone)
        self.fields["payer"].queryset = payers
        self.fields["coverage"].queryset = coverages

    def _aware(self, name):
        value = self.cleaned_data.get(name)
        return value.replace(tzinfo=self.zone) if value else value

    def clean_started(self):
        return self._aware("started")

    def clean_ended(self):
        return self._aware("ended")

    def documentation(self) -> dict:
        data = dict(self.cleaned_data)
        data["started_at"] = data.pop("started")
        data["ended_at"] = data.pop("ended")
        return data


class OfferForm(forms.Form):
    kind = forms.ChoiceField(choices=OfferKind.choices)
    detail = forms.CharField(max_length=80, required=False)
    place = forms.ChoiceField(choices=OfferPlace.choices)
    answer = forms.ChoiceField(choices=OfferAnswer.choices)
    cycle = forms.UUIDField(required=False)
