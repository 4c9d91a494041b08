"""FHIR R4 out: `GET /api/v1/patients/{id}/fhir/` returns the patient's record as a Bundle.

Bundles come in through the imports API (a `.json` file among the uploads)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from medsync.api.base import TenantAPIMixin
from medsync.roles import Perm
from medsync.services import audit_record
from patients import services
from patients.fhir.writing import patient_bundle
from patients.models import Patient
from patients.visibility import limit_to_visible_patients


class PatientFhirViewSet(TenantAPIMixin, viewsets.GenericViewSet):
    """A patient's record (patient, coverage, prescribers, prescriptions, fills) as a FHIR R4
    collection Bundle, validated against the R4 structures. Audited as a view of the record."""

    required_permission = Perm.VIEW_PATIENTS
    queryset = Patient.objects.none()
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    @extend_schema(responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT})
    def retrieve(self, request, id=None):
        visible = limit_to_visible_patients(Patient.objects.all(), request.membership, "")
        patient = get_object_or_404(visible, public_id=id)
        bundle = patient_bundle(patient)
        services.patient_viewed(patient=patient, actor=request.user, via="fhir")
        audit_record(
            action="patients.fhir.exported",
            actor=request.user,
            target=patient,
            metadata={"resources": len(bundle["entry"])},
        )
        return Response(bundle, content_type="application/fhir+json")
