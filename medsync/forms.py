from django import forms
from django.contrib.auth.forms import AuthenticationForm


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
