"""API routes of the reports app, mounted under /api/v1/."""

from django.urls import path

from reports import api

urlpatterns: list = [
    path(
        "patients/<uuid:id>/adherence/",
        api.PatientAdherenceView.as_view(),
        name="api-patient-adherence",
    ),
    path("reports/eligibility/", api.EligibilityView.as_view(), name="api-eligibility"),
]
