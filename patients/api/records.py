"""Viewsets of the patient records: patients, prescriptions, fills, coverage, prescribers, drugs.

Opening a record is logged as a view of its patient (HIPAA access log), a list as a listing.
"""

from __future__ import annotations

from rest_framework import viewsets

from medsync.api.audit import AuditedListMixin
from medsync.api.base import TenantAPIMixin, TenantModelViewSet
from medsync.api.rows import RowShape
from medsync.roles import Perm
from medsync.services import audit_record
from patients import services
from patients.api.filters import (
    CoverageFilter,
    DrugFilter,
    FillFilter,
    PatientFilter,
    PrescriberFilter,
    PrescriptionFilter,
)
from patients.api.serializers import (
    CoverageSerializer,
    DrugSerializer,
    FillSerializer,
    PatientSerializer,
    PrescriberSerializer,
    PrescriptionSerializer,
)
from patients.models import Coverage, Drug, Fill, Patient, Prescriber, Prescription
from patients.visibility import limit_to_visible_patients

# The lists' rows (medsync.api.rows): the serializers' output without a model object per row.
DRUG_ROWS = RowShape(DrugSerializer, prefix="drug__")
PRESCRIPTION_ROWS = RowShape(
    PrescriptionSerializer,
    nested={"drug": DRUG_ROWS},
    apart=("patient", "pharmacy", "prescriber", "coverage"),  # a 6-table join took 4 ms to plan
)
FILL_ROWS = RowShape(FillSerializer)
PATIENT = "patients.patient"  # the audit target type of a row's patient

READ_WRITE = {
    "list": Perm.VIEW_PATIENTS,
    "retrieve": Perm.VIEW_PATIENTS,
    "create": Perm.EDIT_PATIENTS,
    "update": Perm.EDIT_PATIENTS,
    "partial_update": Perm.EDIT_PATIENTS,
    "destroy": Perm.EDIT_PATIENTS,
}


# A record viewset whose reads are audited against the record's patient.
class AuditedRecordViewSet(AuditedListMixin, TenantModelViewSet):
    required_permission = READ_WRITE
    patient_field = ""  # the path from the record to its patient ("" for a patient)

    def filter_queryset(self, queryset):
        # Lists, details, updates and deletes: only patients the member may see (a 404 else).
        queryset = limit_to_visible_patients(queryset, self.request.membership, self.patient_field)
        return super().filter_queryset(queryset)

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        patient = self._patient_of(self.get_object())
        services.patient_viewed(patient=patient, actor=request.user, via="api")
        return response

    @property
    def list_audit_action(self) -> str:
        return f"patients.{self.queryset.model._meta.model_name}.listed"

    def audit_targets(self, rows):
        # Each patient on the page, in one bulk INSERT (medsync.api.audit).
        return [self._patient_of(row) for row in rows]

    def _patient_of(self, obj) -> Patient:
        raise NotImplementedError

    def perform_destroy(self, instance):
        audit_record(
            action=f"patients.{instance._meta.model_name}.deleted",
            actor=self.request.user,
            target=instance,
        )
        instance.delete()


class PatientViewSet(AuditedRecordViewSet):
    """Patients. `?search=` matches name, date of birth, phone or rx number. DELETE marks the
    patient inactive: health records are kept."""

    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    queryset = Patient.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Patient.objects.select_related("home_pharmacy").order_by(
            "last_name", "first_name", "id"
        )

    def _patient_of(self, obj):
        return obj

    def perform_destroy(self, instance):
        services.patient_deactivate(patient=instance, actor=self.request.user)


# Prescriptions. DELETE discontinues: the history stays.
class PrescriptionViewSet(AuditedRecordViewSet):
    serializer_class = PrescriptionSerializer
    filterset_class = PrescriptionFilter
    patient_field = "patient"
    queryset = Prescription.objects.none()
    list_shape = PRESCRIPTION_ROWS
    list_row_columns = ("patient__public_id",)

    def audit_targets(self, rows):
        return [(PATIENT, row["patient__public_id"]) for row in rows]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Prescription.objects.select_related(
            "patient", "drug", "prescriber", "pharmacy", "coverage"
        ).order_by("patient_id", "rx_number")

    def _patient_of(self, obj):
        return obj.patient

    def perform_destroy(self, instance):
        # A prescription is never erased: DELETE discontinues it, history stays.
        services.record_save(
            instance=instance, actor=self.request.user, fields={"status": "discontinued"}
        )


# Fill history, newest first.
class FillViewSet(AuditedRecordViewSet):
    serializer_class = FillSerializer
    filterset_class = FillFilter
    patient_field = "prescription__patient"
    queryset = Fill.objects.none()
    list_shape = FILL_ROWS
    list_row_columns = ("prescription__patient__public_id",)

    def audit_targets(self, rows):
        return [(PATIENT, row["prescription__patient__public_id"]) for row in rows]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Fill.objects.select_related("prescription__patient").order_by("-fill_date", "-id")

    def _patient_of(self, obj):
        return obj.prescription.patient


# Patients' payer plans, by priority.
class CoverageViewSet(AuditedRecordViewSet):
    serializer_class = CoverageSerializer
    filterset_class = CoverageFilter
    patient_field = "patient"
    queryset = Coverage.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Coverage.objects.select_related("patient").order_by("patient_id", "priority")

    def _patient_of(self, obj):
        return obj.patient


# The organization's prescribers.
class PrescriberViewSet(TenantModelViewSet):
    serializer_class = PrescriberSerializer
    filterset_class = PrescriberFilter
    required_permission = READ_WRITE
    queryset = Prescriber.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Prescriber.objects.order_by("last_name", "first_name", "id")


class DrugViewSet(TenantAPIMixin, viewsets.ReadOnlyModelViewSet):
    """The shared drug catalog (read only). `?search=` takes a name or an NDC in any form."""

    serializer_class = DrugSerializer
    filterset_class = DrugFilter
    required_permission = Perm.VIEW_PATIENTS
    queryset = Drug.objects.order_by("name", "strength", "id")
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
