"""Filters of the outcome reports (adherence, PQA): pharmacy and dates, read through forms so
bad input is a message naming the field and the page shows nothing made up."""

from __future__ import annotations

import datetime as dt

from django import forms

from medsync.selectors import pharmacies_visible_to

MIN_DAY = dt.date(2000, 1, 1)
MAX_DAY = dt.date(2099, 12, 31)


class _PharmacyForm(forms.Form):
    pharmacy = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="All my pharmacies", to_field_name="public_id"
    )

    def __init__(self, data=None, *, membership, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["pharmacy"].queryset = pharmacies_visible_to(membership)

    def _bounded(self, name):
        day = self.cleaned_data.get(name)
        if day is not None and not MIN_DAY <= day <= MAX_DAY:
            raise forms.ValidationError(f"A date from {MIN_DAY} to {MAX_DAY}.")
        return day


class AdherenceFilterForm(_PharmacyForm):
    """Enrollment-date cohort: patients enrolled from .. to (the comparison is everyone
    never enrolled)."""

    enrolled_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    enrolled_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_enrolled_from(self):
        return self._bounded("enrolled_from")

    def clean_enrolled_to(self):
        return self._bounded("enrolled_to")

    def clean(self):
        data = super().clean()
        start, end = data.get("enrolled_from"), data.get("enrolled_to")
        if start and end and start > end:
            self.add_error("enrolled_to", "Must be on or after the first day.")
        return data


class PqaFilterForm(_PharmacyForm):
    """The measure period (default: the 12 months ending today)."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, *, membership, today: dt.date, **kwargs):
        super().__init__(data, membership=membership, **kwargs)
        self.today = today

    def clean_start(self):
        return self._bounded("start")

    def clean_end(self):
        return self._bounded("end")

    def clean(self):
        data = super().clean()
        end = data.get("end") or self.today
        start = data.get("start") or (end - dt.timedelta(days=364))
        if start > end:
            self.add_error("end", "Must be on or after the start.")
        elif (end - start).days > 3 * 366:
            self.add_error("start", "A period of at most three years.")
        data["start"], data["end"] = start, end
        return data
