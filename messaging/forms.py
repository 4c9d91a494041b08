"""The staff pages' form posts, validated by Django forms (the same field names as the
templates). The rules themselves (lengths, consent methods, windows) stay in the services,
which raise MessagingError with the message staff see; a form only reads and shapes input."""

from __future__ import annotations

from datetime import time

from django import forms

from messaging.services import QUIET_HOLD, QUIET_SEND, QUIET_WARN

SIMULATED_MAX_CHARS = 320


class ReplyForm(forms.Form):
    """A staff reply in a conversation; outside the window the button says warn, send or hold."""

    body = forms.CharField(required=False, strip=False)
    outside_window = forms.CharField(required=False)

    def clean_outside_window(self) -> str:
        choice = self.cleaned_data.get("outside_window") or QUIET_WARN
        return choice if choice in (QUIET_WARN, QUIET_SEND, QUIET_HOLD) else QUIET_WARN


class AssignForm(forms.Form):
    """`me`, a member's user public id, or blank to unassign."""

    assignee = forms.CharField(required=False)


class CloseForm(forms.Form):
    """Close the conversation, or reopen it when `reopen` is set."""

    reopen = forms.CharField(required=False)


class SimulateForm(forms.Form):
    """Development only: what the patient "texts"."""

    body = forms.CharField(required=False)

    def clean_body(self) -> str:
        return self.cleaned_data["body"][:SIMULATED_MAX_CHARS]


class PatientConsentForm(forms.Form):
    """One of the patient's texting actions: grant, withdraw, preferences, clear_invalid."""

    action = forms.CharField(required=False)
    method = forms.CharField(required=False, strip=False)
    note = forms.CharField(required=False, strip=False)
    language = forms.CharField(required=False, strip=False)
    quiet_start = forms.CharField(required=False, strip=False)
    quiet_end = forms.CharField(required=False, strip=False)

    TIME_ERROR = "Times look like 08:00."

    def clean_note(self) -> str:
        return self.cleaned_data["note"][:300]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "preferences":
            for name in ("quiet_start", "quiet_end"):
                try:
                    cleaned[name] = time.fromisoformat((cleaned.get(name) or "").strip())
                except ValueError:
                    self.add_error(name, "Use HH:MM.")
                    break  # one at a time, the start first
        return cleaned

    def error_text(self) -> str:
        """What staff see when the post itself is unusable."""
        details = " ".join(str(m) for messages in self.errors.values() for m in messages)
        if "quiet_start" in self.errors or "quiet_end" in self.errors:
            return f"{self.TIME_ERROR} {details}"
        return details


class _TwilioForm(forms.Form):
    """Twilio posts its own field names; values are kept exactly as sent (no trimming)."""

    MessageSid = forms.CharField(required=False, strip=False)
    SmsSid = forms.CharField(required=False, strip=False)
    From = forms.CharField(required=False, strip=False)

    def value(self, name: str) -> str:
        """A field's value, '' when absent or unusable."""
        return (self.cleaned_data.get(name) if hasattr(self, "cleaned_data") else "") or ""

    @property
    def sid(self) -> str:
        return self.value("MessageSid") or self.value("SmsSid")


class TwilioInboundForm(_TwilioForm):
    """An inbound text (webhook): who sent it, to which of our numbers, what it says."""

    To = forms.CharField(required=False, strip=False)
    Body = forms.CharField(required=False, strip=False)


class TwilioStatusForm(_TwilioForm):
    """A status callback (webhook) for a text we sent."""

    MessageStatus = forms.CharField(required=False, strip=False)
    SmsStatus = forms.CharField(required=False, strip=False)
    ErrorCode = forms.CharField(required=False, strip=False)

    @property
    def status(self) -> str:
        return self.value("MessageStatus") or self.value("SmsStatus")


class TemplateForm(forms.Form):
    """A template's wording (checked by the service), or `reset` to the built-in one."""

    body = forms.CharField(required=False, strip=False)
    reset = forms.CharField(required=False)


__all__ = [
    "AssignForm",
    "CloseForm",
    "PatientConsentForm",
    "ReplyForm",
    "SimulateForm",
    "TemplateForm",
    "TwilioInboundForm",
    "TwilioStatusForm",
]
