"""The webhooks page (subscriptions, delivery log, inbound endpoint) and the inbound URL."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from medsync.api.errors import error_body
from medsync.decorators import require_permission
from medsync.models import InboundEndpoint, WebhookDelivery, WebhookSubscription
from medsync.roles import Perm
from medsync.webhooks import signing
from medsync.webhooks.forms import DeliveryFilterForm, SubscriptionForm
from medsync.webhooks.inbound import InboundRefused, inbound_push_receive
from medsync.webhooks.services import (
    inbound_endpoint_create,
    webhook_subscription_create,
    webhook_subscription_disable,
)

PAGE_SIZE = 25


@require_permission(Perm.MANAGE_INTEGRATIONS)
def webhooks_page(request):
    form = SubscriptionForm(request.POST or None)
    shown_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            subscription, secret = webhook_subscription_create(
                url=form.cleaned_data["url"], events=form.cleaned_data["events"], actor=request.user
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            shown_secret = {"label": subscription.url, "secret": secret}
            form = SubscriptionForm()
    filters = DeliveryFilterForm(request.GET)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    deliveries = WebhookDelivery.objects.select_related("subscription")
    if status:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    endpoint = InboundEndpoint.objects.filter(is_active=True).first()
    return render(
        request,
        "medsync/webhooks.html",
        {
            "form": form,
            "subscriptions": WebhookSubscription.objects.filter(is_active=True),
            "page": page,
            "status": status,
            "shown_secret": shown_secret,
            "endpoint": endpoint,
            "endpoint_url": _inbound_url(request, endpoint),
            "signature_header": signing.HEADER,
        },
    )


def _inbound_url(request, endpoint) -> str:
    if endpoint is None:
        return ""
    return request.build_absolute_uri(reverse("webhook-inbound", args=[endpoint.public_id]))


@require_permission(Perm.MANAGE_INTEGRATIONS)
@require_POST
def webhook_disable(request, public_id):
    subscription = WebhookSubscription.objects.filter(public_id=public_id, is_active=True).first()
    if subscription is None:
        raise Http404("No such subscription.")
    webhook_subscription_disable(subscription=subscription, actor=request.user)
    messages.success(request, f"Stopped sending to {subscription.url}.")
    return redirect("webhooks")


@require_permission(Perm.MANAGE_INTEGRATIONS)
@require_POST
def inbound_endpoint_new(request):
    endpoint, secret = inbound_endpoint_create(actor=request.user)
    subscriptions = WebhookSubscription.objects.filter(is_active=True)
    page = Paginator(WebhookDelivery.objects.select_related("subscription"), PAGE_SIZE).get_page(1)
    return render(
        request,
        "medsync/webhooks.html",
        {
            "form": SubscriptionForm(),
            "subscriptions": subscriptions,
            "page": page,
            "status": "",
            "shown_secret": {"label": "the inbound endpoint", "secret": secret},
            "endpoint": endpoint,
            "endpoint_url": _inbound_url(request, endpoint),
            "signature_header": signing.HEADER,
        },
    )


@csrf_exempt  # a server-to-server push, authenticated by its HMAC signature
@require_POST
def inbound(request, endpoint_id):
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse(error_body("too_large", "The body is too large."), status=413)
    try:
        result = inbound_push_receive(
            endpoint_id=endpoint_id,
            signature=request.headers.get(signing.HEADER, ""),
            body=body,
        )
    except InboundRefused as refused:
        return JsonResponse(
            error_body(refused.code, refused.message, refused.fields), status=refused.status
        )
    return JsonResponse(result, status=201)
