"""Pages of the reports app."""

from django.urls import path

from reports import views

urlpatterns = [
    path("reports/eligibility/", views.eligibility, name="eligibility"),
    path("reports/eligibility.csv", views.eligibility_csv, name="eligibility-csv"),
]
