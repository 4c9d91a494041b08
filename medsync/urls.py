from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from medsync import health, views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("", include("medsync.accounts.urls")),
    path("accounts/switch-organization/", views.switch_organization, name="switch-organization"),
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("pharmacies/", views.pharmacy_list, name="pharmacy-list"),
    path("pharmacies/<uuid:public_id>/", views.pharmacy_detail, name="pharmacy-detail"),
    path(
        "pharmacies/<uuid:public_id>/settings/",
        views.pharmacy_settings,
        name="pharmacy-settings",
    ),
    path(
        "pharmacies/<uuid:public_id>/test-text/",
        views.pharmacy_test_text,
        name="pharmacy-test-text",
    ),
    path("setup/", views.setup_checklist, name="setup-checklist"),
    path("team/", views.team, name="team"),
    path("team/<uuid:public_id>/", views.team_member, name="team-member"),
    path("accounts/invitation/<str:token>/", views.invitation, name="invitation"),
    path("audit/", views.audit_log, name="audit-log"),
    path("", include("medsync.webhooks.urls")),
    # The URL root is the one place that knows every app.
    path("", include("patients.urls")),
    path("", include("scheduling.urls")),
    path("", include("messaging.urls")),
    path("", include("reports.urls")),
    path("", include("billing.urls")),
    path("api/v1/", include("medsync.api.urls")),
    path("api/v1/", include("patients.api_urls")),
    path("api/v1/", include("scheduling.api_urls")),
    path("api/v1/", include("messaging.api_urls")),
    path("api/v1/", include("billing.api_urls")),
    path("api/v1/", include("reports.api_urls")),
    path(settings.ADMIN_URL_PATH, admin.site.urls),
]

handler404 = "medsync.views.page_not_found"
handler500 = "medsync.views.server_error"
handler403 = "medsync.views.permission_denied"
