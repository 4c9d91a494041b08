"""Pages of the sync engine."""

from django.urls import path, re_path

from scheduling import views
from scheduling.views import agreement_texts, appointments

urlpatterns = [
    path("fill-queue/", views.fill_queue, name="fill-queue"),
    path("fill-queue/version/", views.fill_queue_version, name="fill-queue-version"),
    path(
        "fill-queue/items/<uuid:item_id>/<slug:action>/",
        views.item_action,
        name="fill-queue-item-action",
    ),
    path("sync/prep/", views.prep_worklist, name="sync-prep"),
    path("sync/cycles/<uuid:cycle_id>/prep-contact/", views.prep_contact, name="sync-prep-contact"),
    path("sync/cycles/<uuid:cycle_id>/pickup/", views.cycle_pickup, name="sync-cycle-pickup"),
    path(
        "sync/cycles/<uuid:cycle_id>/return-to-stock/",
        views.cycle_return_to_stock,
        name="sync-cycle-return",
    ),
    path("sync/enrollments/", views.enrollment_list, name="sync-enrollments"),
    path("sync/enroll/<uuid:patient_id>/", views.enroll_wizard, name="sync-enroll"),
    path(
        "sync/enrollments/<uuid:enrollment_id>/<slug:action>/",
        views.enrollment_action,
        name="sync-enrollment-action",
    ),
    path("sync/patients/<uuid:patient_id>/", views.patient_sync_page, name="sync-patient"),
    path(
        "sync/patients/<uuid:patient_id>/panel/",
        views.patient_sync_panel,
        name="sync-patient-panel",
    ),
    path("sync/patients/<uuid:patient_id>/invite/", views.patient_invite, name="sync-invite"),
    path(
        "sync/patients/<uuid:patient_id>/replan/", views.replan_request, name="sync-replan-request"
    ),
    path("sync/replans/", views.replan_list, name="sync-replans"),
    path(
        "sync/replans/<uuid:proposal_id>/<slug:decision>/",
        views.replan_decide,
        name="sync-replan-decide",
    ),
    path("sync/tasks/", views.task_list, name="sync-tasks"),
    path("sync/tasks/<uuid:task_id>/<slug:status>/", views.task_resolve, name="sync-task-resolve"),
    path("sync/settings/", views.sync_settings, name="sync-settings"),
    *appointments.urlpatterns,
    *agreement_texts.urlpatterns,
    path("sync/cycles/<uuid:cycle_id>/renewals/", views.cycle_renewals, name="sync-renewals"),
    re_path(
        r"^sync/cycles/(?P<cycle_id>[0-9a-f-]{36})/renewals/(?P<prescriber_id>[0-9a-f-]{36}|none)\.pdf$",
        views.renewal_pdf,
        name="sync-renewal-pdf",
    ),
    re_path(
        r"^sync/cycles/(?P<cycle_id>[0-9a-f-]{36})/renewals/export\.(?P<fmt>csv|json)$",
        views.renewal_export,
        name="sync-renewal-export",
    ),
    path(
        "sync/cycles/<uuid:cycle_id>/renewals/<uuid:renewal_id>/status/",
        views.renewal_status,
        name="sync-renewal-status",
    ),
]
