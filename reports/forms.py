"""The forms the report pages post: report settings, an on-hand count, an on-hand file, a
one-click disenrollment. Ranges are checked by the services (ReportError fields)."""

from __future__ import annotations

from django import forms

from reports.services import MINUTE_FIELDS

WEEKDAY_CHOICES = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class ReportSettingsForm(forms.Form):
    order_weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES, coerce=int, required=False
    )
    inactive_months = forms.IntegerField(min_value=1, max_value=24)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in MINUTE_FIELDS:
            self.fields[name] = forms.IntegerField(min_value=0, max_value=120)


class OnHandForm(forms.Form):
    ndc = forms.CharField(max_length=13)
    quantity = forms.DecimalField(min_value=0, max_digits=12, decimal_places=3)


class OnHandImportForm(forms.Form):
    file = forms.FileField()


class DisenrollForm(forms.Form):
    note = forms.CharField(max_length=500, required=False)
