"""Pages of the reports app."""

from django.urls import path

from reports import views, views_outcomes

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
