"""FHIR R4 in and out: a Bundle imported through the CSV importers (reading.py), a patient's
record exported as a Bundle (writing.py). Structures from fhir.resources (R4B models)."""
