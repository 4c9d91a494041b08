"""Forms of the webhooks page."""

from django import forms

from medsync.models import DeliveryStatus, WebhookEvent


class SubscriptionForm(forms.Form):
    url = forms.CharField(label="Your system's URL", max_length=500)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "All"), *DeliveryStatus.choices],
        required=False,
    )
