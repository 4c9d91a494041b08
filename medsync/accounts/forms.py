"""Forms of the sign-in and account pages."""

from __future__ import annotations

from django import forms

from medsync.models import Organization


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "spellcheck": "false",
            }
        ),
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
    )
    remember = forms.BooleanField(
        label="Remember this computer for 12 hours", required=False, initial=False
    )


class EnrollForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )


class PasswordAndCodeForm(forms.Form):
    """Proof that it is really this person: their password and a current code."""

    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autofocus": True})
    )
    code = forms.CharField(label="Code from your authenticator app", max_length=32)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


class OrganizationSecurityForm(forms.Form):
    technicians_need_mfa = forms.BooleanField(
        label="Technicians must sign in with a second factor",
        required=False,
        help_text="Recommended: technicians see patient records. Off: they may still add one.",
    )
    technicians_may_remember_device = forms.BooleanField(
        label="A technician may let a counter computer remember their second factor for 12 hours",
        required=False,
        help_text="Cleared by a password change; never for owners and pharmacists.",
    )

    @classmethod
    def for_organization(cls, organization: Organization, data=None):
        return cls(
            data,
            initial={
                "technicians_need_mfa": organization.technicians_need_mfa,
                "technicians_may_remember_device": organization.technicians_may_remember_device,
            },
        )
