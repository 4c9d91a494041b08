"""The clinical record by API: conditions, allergies and intolerances, immunizations and
inpatient stays of a patient. Writes go through `services.record_save` (model validation,
audit); reads are audited as views of the patient, lists as listings."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers

from patients.api.records import AuditedRecordViewSet
from patients.api.serializers import PublicIdField, RecordSerializer
from patients.clinical_selectors import immunization_schedule
from patients.models import (
    Allergy,
    Condition,
    Immunization,
    InpatientStay,
    Patient,
    StaySource,
)
from patients.validators import normalize_icd10


class _PatientRecordSerializer(RecordSerializer):
    """A row of one patient's clinical record; the writer is recorded as who reported it."""

    patient = PublicIdField(queryset=Patient.objects, patient_field="")
    recorded_by_field = "recorded_by"

    def create(self, validated_data):
        user = self.context["request"].user
        validated_data[self.recorded_by_field] = user if user.is_authenticated else None
        return super().create(validated_data)

    def validate(self, attrs):
        if (
            self.instance is not None
            and "patient" in attrs
            and attrs["patient"] != self.instance.patient
        ):
            raise serializers.ValidationError({"patient": ["A record stays with its patient."]})
        return attrs


def _not_future(value, what: str):
    if value is not None and value > timezone.localdate():
        raise serializers.ValidationError(f"{what} cannot be in the future.")
    return value


class ConditionSerializer(_PatientRecordSerializer):
    icd10_code = serializers.CharField(
        max_length=10, help_text="ICD-10-CM, e.g. E11.9 (E119 is accepted and written E11.9)."
    )

    class Meta:
        model = Condition
        fields = ["id", "patient", "icd10_code", "description", "onset_on", "status", "recorded_at"]
        read_only_fields = ["recorded_at"]

    def validate_icd10_code(self, value):
        try:
            return normalize_icd10(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from None

    def validate_onset_on(self, value):
        return _not_future(value, "An onset")


class AllergySerializer(_PatientRecordSerializer):
    class Meta:
        model = Allergy
        fields = ["id", "patient", "substance", "kind", "reaction", "severity", "recorded_at"]
        read_only_fields = ["recorded_at"]


class ImmunizationSerializer(_PatientRecordSerializer):
    vaccine = serializers.CharField(
        max_length=30, help_text="A vaccine key of the immunization schedule (influenza, zoster…)."
    )

    class Meta:
        model = Immunization
        fields = [
            "id",
            "patient",
            "vaccine",
            "product",
            "administered_on",
            "lot_number",
            "source",
            "recorded_at",
        ]
        read_only_fields = ["recorded_at"]

    def validate_vaccine(self, value):
        known = immunization_schedule().keys
        if value not in known:
            raise serializers.ValidationError(
                f"Not a vaccine of the schedule: one of {', '.join(sorted(known))}."
            )
        return value

    def validate_administered_on(self, value):
        return _not_future(value, "A dose")


class InpatientStaySerializer(_PatientRecordSerializer):
    recorded_by_field = "reported_by"

    class Meta:
        model = InpatientStay
        fields = [
            "id",
            "patient",
            "kind",
            "admitted_on",
            "discharged_on",
            "note",
            "source",
            "reported_at",
        ]
        read_only_fields = ["source", "reported_at"]

    def validate_admitted_on(self, value):
        return _not_future(value, "An admission")

    def validate_discharged_on(self, value):
        return _not_future(value, "A discharge")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        admitted = attrs.get("admitted_on", getattr(self.instance, "admitted_on", None))
        discharged = attrs.get("discharged_on", getattr(self.instance, "discharged_on", None))
        if admitted and discharged and discharged < admitted:
            raise serializers.ValidationError(
                {"discharged_on": ["The discharge is on or after the admission."]}
            )
        return attrs

    def create(self, validated_data):
        validated_data["source"] = StaySource.RECORD
        return super().create(validated_data)


class PatientRecordFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")


class ConditionFilter(PatientRecordFilter):
    status = django_filters.CharFilter()

    class Meta:
        model = Condition
        fields = ["patient", "status"]


class AllergyFilter(PatientRecordFilter):
    class Meta:
        model = Allergy
        fields = ["patient"]


class ImmunizationFilter(PatientRecordFilter):
    vaccine = django_filters.CharFilter()

    class Meta:
        model = Immunization
        fields = ["patient", "vaccine"]


class InpatientStayFilter(PatientRecordFilter):
    class Meta:
        model = InpatientStay
        fields = ["patient"]


class _PatientRecordViewSet(AuditedRecordViewSet):
    patient_field = "patient"
    ordering: tuple[str, ...] = ("patient_id", "id")

    def get_queryset(self):
        model = self.serializer_class.Meta.model
        if getattr(self, "swagger_fake_view", False):
            return model.objects.none()
        return model.objects.select_related("patient").order_by(*self.ordering)

    def _patient_of(self, obj):
        return obj.patient


class ConditionViewSet(_PatientRecordViewSet):
    """Conditions (ICD-10-CM). DELETE removes one entered in error (audited)."""

    serializer_class = ConditionSerializer
    filterset_class = ConditionFilter
    queryset = Condition.objects.none()


class AllergyViewSet(_PatientRecordViewSet):
    """Allergies and intolerances."""

    serializer_class = AllergySerializer
    filterset_class = AllergyFilter
    queryset = Allergy.objects.none()


class ImmunizationViewSet(_PatientRecordViewSet):
    """Immunization history, newest first per patient."""

    serializer_class = ImmunizationSerializer
    filterset_class = ImmunizationFilter
    queryset = Immunization.objects.none()
    ordering = ("patient_id", "-administered_on", "id")


class InpatientStayViewSet(_PatientRecordViewSet):
    """Hospital and skilled-nursing stays: their days leave the PDC period (DOMAIN 6)."""

    serializer_class = InpatientStaySerializer
    filterset_class = InpatientStayFilter
    queryset = InpatientStay.objects.none()
    ordering = ("patient_id", "-admitted_on", "id")
