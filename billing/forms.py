"""The forms the service-billing page posts: an export, a line's status."""

from __future__ import annotations

from django import forms

from billing.models import ExportFormat, LineStatus


class ExportForm(forms.Form):
    pharmacy = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    payer = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    date_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    format = forms.ChoiceField(choices=ExportFormat.choices)

    def __init__(self, *args, pharmacies, payers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pharmacy"].queryset = pharmacies
        self.fields["payer"].queryset = payers


class LineStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(LineStatus.PAID, "Paid"), (LineStatus.DENIED, "Denied")])
    paid_amount = forms.DecimalField(max_digits=9, decimal_places=2, min_value=0, required=False)
    denial_reason = forms.CharField(max_length=200, required=False)
