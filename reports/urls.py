"""Pages of the reports app."""

from django.urls import path

from reports import views, views_outcomes
from reports.views import operations, program, today

urlpatterns = [
    path("reports/eligibility/", views.eligibility, name="eligibility"),
    path("reports/eligibility.csv", views.eligibility_csv, name="eligibility-csv"),
    # --- outcomes: adherence (PDC before/since enrollment) and the PQA measures (issue 13) ---
    path("reports/adherence/", views_outcomes.adherence, name="adherence"),
    path("reports/adherence.csv", views_outcomes.adherence_csv, name="adherence-csv"),
    path(
        "reports/adherence/patients/",
        views_outcomes.adherence_patients,
        name="adherence-patients",
    ),
    path("reports/adherence/refresh/", views_outcomes.adherence_refresh, name="adherence-refresh"),
    path(
        "reports/adherence/refresh/progress/",
        views_outcomes.adherence_refresh_progress,
        name="adherence-refresh-progress",
    ),
    path("reports/pqa/", views_outcomes.pqa, name="pqa"),
    path("reports/pqa.csv", views_outcomes.pqa_csv, name="pqa-csv"),
    path("reports/pqa/<str:measure>/", views_outcomes.pqa_patients, name="pqa-patients"),
]

# --- Operations reports (issue 13 items 1, 4-7): today, program, opportunities, workload,
# --- inventory forecast.
urlpatterns += [
    path("today/", today.today, name="reports-today"),
    path("today/<slug:key>/", today.today_list, name="reports-today-list"),
    path("reports/workload/", operations.workload, name="reports-workload"),
    path("reports/forecast/", operations.forecast, name="reports-forecast"),
    path("reports/forecast/on-hand/", operations.on_hand, name="reports-on-hand"),
    path("reports/settings/", operations.report_settings, name="reports-settings"),
]
urlpatterns += [
    path("reports/program/", program.program, name="reports-program"),
    path("reports/program/services/", program.program_services, name="reports-program-services"),
    path("reports/money/", program.money, name="reports-money"),
    path("reports/opportunities/", program.opportunities_page, name="reports-opportunities"),
    path(
        "reports/opportunities/inactive/<uuid:enrollment_id>/disenroll/",
        program.inactive_disenroll,
        name="reports-inactive-disenroll",
    ),
    path("reports/month.pdf", program.month_pdf, name="reports-month-pdf"),
]
