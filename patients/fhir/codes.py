"""The code systems and identifiers the FHIR bundles use, in and out (one place)."""

from __future__ import annotations

NDC = "http://hl7.org/fhir/sid/ndc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NPI = "http://hl7.org/fhir/sid/us-npi"
NCPDP = "http://terminology.hl7.org/NamingSystem/NCPDPProviderIdentificationNumber"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
COPAY_TYPE = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
UCUM = "http://unitsofmeasure.org"
# MedSync's own: the pharmacy system's rx number, the plan type, the NCPDP fill number.
RX_NUMBER = "urn:medsync:rx-number"
PLAN_TYPE = "urn:medsync:plan-type"
FILL_NUMBER = "urn:medsync:fill-number"

GENDER_TO_SEX = {"female": "F", "male": "M", "other": "X", "unknown": "U"}
SEX_TO_GENDER = {sex: gender for gender, sex in GENDER_TO_SEX.items()}

# MedicationRequest.status -> our prescription status, and back.
REQUEST_STATUS = {
    "active": "active",
    "on-hold": "on_hold",
    "cancelled": "discontinued",
    "stopped": "discontinued",
    "completed": "discontinued",
    "entered-in-error": "discontinued",
    "draft": "active",
    "unknown": "active",
}
STATUS_TO_REQUEST = {"active": "active", "on_hold": "on-hold", "discontinued": "stopped"}
STATUS_TO_REQUEST["transferred"] = "stopped"

# Timing period units -> days.
PERIOD_DAYS = {"h": "1/24", "d": "1", "wk": "7", "mo": "30", "a": "365"}
