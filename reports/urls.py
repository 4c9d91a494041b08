"""Pages of the reports app."""

from django.urls import path

from reports import views
from reports.views import operations, today

urlpatterns = [
    path("reports/eligibility/", views.eligibility, name="eligibility"),
    path("reports/eligibility.csv", views.eligibility_csv, name="eligibility-csv"),
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
