"""Patients, coverage, drugs, prescriptions and fill history (issue: patient records)."""
