"""Forms of the platform pages: sign-in, the team page, the organization switcher."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from medsync.roles import Role


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
