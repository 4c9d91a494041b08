"""Pages of the billing app."""

from django.urls import path

from billing import service_views, settings_views, views

urlpatterns: list = [
    path("claims/", views.claim_list, name="claim-list"),
    path("claims/<uuid:public_id>/", views.claim_detail, name="claim-detail"),
    path(
        "claims/<uuid:public_id>/resubmit/",
        views.claim_work,
        {"action": "resubmit"},
        name="claim-resubmit",
    ),
    path(
        "claims/<uuid:public_id>/rebill/",
        views.claim_work,
        {"action": "rebill"},
        name="claim-rebill",
    ),
    path(
        "claims/<uuid:public_id>/reverse/",
        views.claim_work,
        {"action": "reverse"},
        name="claim-reverse",
    ),
    path("billing/services/", service_views.service_billing, name="service-billing"),
    path(
        "billing/services/settings/",
        settings_views.billing_settings,
        name="service-billing-settings",
    ),
    path(
        "billing/services/exports/<uuid:export_id>/",
        service_views.export_download,
        name="service-claim-export-download",
    ),
    path(
        "billing/services/lines/status-file/",
        service_views.line_status_file,
        name="service-claim-line-status-file",
    ),
    path(
        "billing/services/lines/<uuid:line_id>/status/",
        service_views.line_status,
        name="service-claim-line-status",
    ),
]
