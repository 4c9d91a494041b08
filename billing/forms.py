"""Forms of the claims pages: they read what a page posts; the rules live in the services."""

from __future__ import annotations

from decimal import Decimal

from django import forms


class ClaimCorrectionForm(forms.Form):
    """A resubmit of a reject (or a rebill): SCC codes, a PA number, a cut quantity."""

    scc_codes = forms.CharField(
        required=False, max_length=20, help_text="Submission clarification codes, e.g. 47"
    )
    pa_number = forms.CharField(required=False, max_length=20, label="PA number")
    quantity = forms.DecimalField(
        required=False, max_digits=10, decimal_places=3, min_value=Decimal("0.001")
    )
    days_supply = forms.IntegerField(required=False, min_value=1, max_value=365)

    def clean_scc_codes(self) -> list[int] | None:
        raw = self.cleaned_data["scc_codes"].replace(",", " ").split()
        if not raw:
            return None
        try:
            codes = [int(code) for code in raw]
        except ValueError:
            raise forms.ValidationError("Codes are numbers, e.g. 47 or 48.") from None
        if len(codes) > 3 or any(not 0 <= c <= 99 for c in codes):
            raise forms.ValidationError("Up to 3 codes from 0 to 99.")
        return codes

    def corrections(self) -> dict:
        data = self.cleaned_data
        values = {
            "scc_codes": data["scc_codes"],
            "pa_number": data["pa_number"] or None,
            "quantity": data["quantity"],
            "days_supply": data["days_supply"],
        }
        return {k: v for k, v in values.items() if v is not None}


class ClaimReverseForm(forms.Form):
    reason = forms.CharField(max_length=200)


class ClaimFilterForm(forms.Form):
    """The claims list's filters (query string). A bad value is a 400 naming it, never a
    silently wider list."""

    status = forms.ChoiceField(required=False, choices=())
    reject_code = forms.ChoiceField(required=False, choices=())
    date_from = forms.DateField(required=False, label="Date of service from")
    date_to = forms.DateField(required=False, label="to")
    plan = forms.CharField(required=False, max_length=40, label="Plan (payer or BIN)")
    patient = forms.UUIDField(required=False)

    def __init__(self, *args, statuses, reject_codes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Any status"), *statuses]
        self.fields["reject_code"].choices = [("", "Any reject code"), *reject_codes]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end is before the start.")
        cleaned["plan"] = (cleaned.get("plan") or "").strip()
        return cleaned
