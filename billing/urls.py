"""Pages of the billing app."""

from django.urls import path

from billing import settings_views, views

urlpatterns: list = [
    path("billing/services/", views.service_billing, name="service-billing"),
    path(
        "billing/services/settings/",
        settings_views.billing_settings,
        name="service-billing-settings",
    ),
    path(
        "billing/services/exports/<uuid:export_id>/",
        views.export_download,
        name="service-claim-export-download",
    ),
    path(
        "billing/services/lines/status-file/",
        views.line_status_file,
        name="service-claim-line-status-file",
    ),
    path(
        "billing/services/lines/<uuid:line_id>/status/",
        views.line_status,
        name="service-claim-line-status",
    ),
]
