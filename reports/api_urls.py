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

# --- Operations reports (issue 13 items 1, 4-7): the same figures as their pages.
from reports import api_operations  # noqa: E402

urlpatterns += [
    path("reports/today/", api_operations.TodayView.as_view(), name="api-reports-today"),
    path("reports/workload/", api_operations.WorkloadView.as_view(), name="api-reports-workload"),
    path("reports/forecast/", api_operations.ForecastView.as_view(), name="api-reports-forecast"),
    path("reports/program/", api_operations.ProgramView.as_view(), name="api-reports-program"),
    path("reports/money/", api_operations.MoneyView.as_view(), name="api-reports-money"),
    path(
        "reports/opportunities/",
        api_operations.OpportunitiesView.as_view(),
        name="api-reports-opportunities",
    ),
]
