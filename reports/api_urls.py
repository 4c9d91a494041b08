"""API routes of the reports app, mounted under /api/v1/."""

from django.urls import path

from reports import api, api_outcomes

urlpatterns: list = [
    path(
        "patients/<uuid:id>/adherence/",
        api.PatientAdherenceView.as_view(),
        name="api-patient-adherence",
    ),
    path("reports/eligibility/", api.EligibilityView.as_view(), name="api-eligibility"),
    # --- outcomes (issue 13): the same figures as the adherence and PQA pages ---
    path(
        "reports/adherence/",
        api_outcomes.AdherenceReportView.as_view(),
        name="api-reports-adherence",
    ),
    path("reports/pqa/", api_outcomes.PqaReportView.as_view(), name="api-reports-pqa"),
]
