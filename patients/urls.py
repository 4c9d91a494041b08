"""Pages of the patients app."""

from django.urls import path

from patients import views

urlpatterns = [
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/import/", views.import_start, name="import-start"),
    path("patients/import/<uuid:public_id>/", views.import_detail, name="import-detail"),
    path("patients/import/<uuid:public_id>/confirm/", views.import_confirm, name="import-confirm"),
    path("patients/<uuid:public_id>/", views.patient_detail, name="patient-detail"),
    path(
        "patients/<uuid:public_id>/accept-suggestions/",
        views.patient_accept_suggestions,
        name="patient-accept-suggestions",
    ),
    path(
        "prescriptions/<uuid:public_id>/sync-decision/",
        views.prescription_decide,
        name="prescription-decide",
    ),
]
