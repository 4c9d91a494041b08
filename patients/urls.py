"""Pages of the patients app."""

from django.urls import path

from patients import agreement_views, assessment_views, clinical_views, views

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
        "patients/<uuid:public_id>/clinical/",
        clinical_views.clinical_panel_view,
        name="clinical-panel",
    ),
    path(
        "patients/<uuid:public_id>/clinical/<slug:kind>/",
        clinical_views.clinical_add,
        name="clinical-add",
    ),
    path(
        "patients/<uuid:public_id>/assessments/<uuid:template_id>/",
        clinical_views.assessment_take,
        name="assessment-take",
    ),
    path(
        "patients/<uuid:public_id>/agreements/<slug:kind>/",
        agreement_views.agreement_counter,
        name="agreement-counter",
    ),
    path(
        "agreements/<uuid:agreement_id>/pdf/",
        agreement_views.agreement_pdf_download,
        name="agreement-pdf",
    ),
    path("sign/<str:token>/", agreement_views.agreement_public, name="agreement-public"),
    path("assessments/", assessment_views.assessment_list, name="assessment-list"),
    path(
        "assessments/immunization-schedule/",
        assessment_views.immunization_schedule,
        name="immunization-schedule",
    ),
    path("assessments/new/", assessment_views.assessment_builder, name="assessment-new"),
    path(
        "assessments/<uuid:template_id>/",
        assessment_views.assessment_builder,
        name="assessment-edit",
    ),
    path(
        "assessments/<uuid:template_id>/settings/",
        assessment_views.assessment_settings,
        name="assessment-settings",
    ),
    path(
        "prescriptions/<uuid:public_id>/sync-decision/",
        views.prescription_decide,
        name="prescription-decide",
    ),
]
