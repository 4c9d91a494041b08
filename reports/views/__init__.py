"""Pages of the reports app, one module per report (the enrollment finder in eligibility)."""

from reports.views.eligibility import eligibility, eligibility_csv

__all__ = ["eligibility", "eligibility_csv"]
