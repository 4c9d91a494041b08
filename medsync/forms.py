"""Forms of the platform pages: sign-in, the team page, the organization switcher."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from medsync.models import US_STATES
from medsync.roles import Role
from medsync.validators import WEEKDAYS


class EmailAuthenticationForm(AuthenticationForm):
    """Login by email. One message for every failure: it never says whether the
    email exists or the account is disabled."""

    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        "invalid_login": "That email and password did not match. Check both and try again.",
        "inactive": "That email and password did not match. Check both and try again.",
    }


class MemberInviteForm(forms.Form):
    """The team page's invitation: an email and a role (the service checks the rest)."""

    email = forms.EmailField(max_length=254, error_messages={"invalid": "Enter a valid email."})
    role = forms.ChoiceField(choices=Role.choices)


class MemberActionForm(forms.Form):
    """A change to one membership: remove it, or give it another role."""

    action = forms.ChoiceField(
        choices=[("remove", "Remove"), ("change_role", "Change role")], required=False
    )
    role = forms.ChoiceField(choices=Role.choices, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") != "remove" and not cleaned.get("role"):
            raise forms.ValidationError("Choose a role.")
        return cleaned


class OrganizationSwitchForm(forms.Form):
    """The header's organization switcher: the public id of an organization one belongs to."""

    organization = forms.UUIDField()


class PharmacySettingsForm(forms.Form):
    """The pharmacy settings page; the service checks every value (and normalizes phones)."""

    name = forms.CharField(max_length=200)
    ncpdp_id = forms.CharField(label="NCPDP ID", max_length=7, required=False)
    npi = forms.CharField(label="NPI", max_length=10, required=False)
    address_line1 = forms.CharField(label="Address", max_length=200, required=False)
    address_line2 = forms.CharField(label="Address (line 2)", max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    state = forms.ChoiceField(choices=US_STATES)
    postal_code = forms.CharField(label="ZIP code", max_length=10, required=False)
    time_zone = forms.CharField(max_length=64)
    phone = forms.CharField(max_length=30, required=False)
    sms_number = forms.CharField(label="SMS number", max_length=30, required=False)
    twilio_auth_token_env = forms.CharField(
        label="Twilio auth token variable", max_length=100, required=False
    )
    closed_dates = forms.CharField(
        label="Closed dates", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day in WEEKDAYS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=day.capitalize(), max_length=11, required=False
            )

    def changes(self) -> dict:
        """The cleaned values in the shape the service takes."""
        data = dict(self.cleaned_data)
        hours = {day: data.pop(f"hours_{day}", "") for day in WEEKDAYS}
        data["hours"] = hours if any(hours.values()) else {}  # none given: not known yet
        data["closed_dates"] = [d.strip() for d in data["closed_dates"].split() if d.strip()]
        return data


class SendTestTextForm(forms.Form):
    """Send yourself a test text from a pharmacy's number."""

    to = forms.CharField(label="Your mobile number", max_length=30)
