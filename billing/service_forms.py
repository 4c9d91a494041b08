"""Forms of the service-billing pages (settings, exports, line status)."""

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


class BillingProfileForm(forms.Form):
    pharmacy = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    tax_id = forms.CharField(label="Federal tax ID (EIN)", max_length=10)
    taxonomy_code = forms.CharField(max_length=10, initial="3336C0003X")


class ProviderForm(forms.Form):
    pharmacist = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    npi = forms.CharField(label="NPI", max_length=10)
    first_name = forms.CharField(max_length=60)
    last_name = forms.CharField(max_length=60)


class PayerForm(forms.Form):
    name = forms.CharField(label="Payer name", max_length=60)
    payer_id = forms.CharField(label="Payer ID", max_length=20)


class FeeForm(forms.Form):
    pharmacy = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    payer = forms.ModelChoiceField(
        queryset=None, to_field_name="public_id", required=False, empty_label="Every payer"
    )
    code = forms.CharField(label="CPT/HCPCS", max_length=5)
    modifiers = forms.CharField(max_length=20, required=False, help_text="e.g. 33 or GT, space")
    charge = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0)


class StatusFileForm(forms.Form):
    file = forms.FileField(help_text="CSV: line,status,paid_amount,denial_reason")
