from django.urls import path

from medsync.webhooks import views

urlpatterns = [
    path("settings/webhooks/", views.webhooks_page, name="webhooks"),
    path(
        "settings/webhooks/<uuid:public_id>/disable/",
        views.webhook_disable,
        name="webhook-disable",
    ),
    path("settings/webhooks/inbound/", views.inbound_endpoint_new, name="webhook-inbound-new"),
    path("webhooks/inbound/<uuid:endpoint_id>/", views.inbound, name="webhook-inbound"),
]
