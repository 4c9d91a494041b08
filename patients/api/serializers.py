"""Serializers of the patient records: what the API reads and writes for each resource.

Writes go through `services.record_save` (model validation, then an audit entry); references
to other records are public ids (UUIDs) resolved inside the caller's tenant.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from medsync.api.fields import BoundedDateField
from medsync.selectors import pharmacies_visible_to
from medsync.validators import normalize_phone
from patients import services
from patients.models import Coverage, Drug, Fill, Patient, Prescriber, Prescription
from patients.validators import normalize_ndc
from patients.visibility import limit_to_visible_patients


class PublicIdField(serializers.SlugRelatedField):
    """A reference by public id (UUID), resolved inside the caller's tenant."""

    def __init__(self, *, patient_field: str | None = None, **kwargs):
        # patient_field: the path to the record's patient ("" for a patient) when the record
        # belongs to one; then only patients the caller may see are found (else "not found").
        self.patient_field = patient_field
        super().__init__(slug_field="public_id", **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if self.patient_field is None or request is None:
            return queryset
        return limit_to_visible_patients(
            queryset, getattr(request, "membership", None), self.patient_field
        )

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except (TypeError, ValueError, DjangoValidationError):
            self.fail("invalid")


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages[0]) from None


class RecordSerializer(serializers.ModelSerializer):
    """Writes go through services.record_save: model validation, then an audit entry."""

    # Every date of a record (birth, written, expiry, fill, coverage) from 1900 to 2099.
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: BoundedDateField,
    }

    id = serializers.UUIDField(source="public_id", read_only=True)

    def create(self, validated_data):
        return self._save(self.Meta.model(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)

    def _save(self, instance, data):
        try:
            return services.record_save(
                instance=instance, actor=self.context["request"].user, fields=data
            )
        except DjangoValidationError as exc:
            raise ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None


# A patient; one entered by hand gets a MedSync MRN (MS-...).
class PatientSerializer(RecordSerializer):
    home_pharmacy = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True, help_text="Pharmacy id."
    )
    mrn = serializers.CharField(required=False, max_length=40)
    phone = serializers.CharField(max_length=30, help_text="Any US form; stored as E.164.")

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "phone",
            "email",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "preferred_language",
            "home_pharmacy",
            "status",
            "hospice",
            "esrd",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_phone(self, value):
        return _phone(value)

    def validate_date_of_birth(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("A date of birth cannot be in the future.")
        return value

    def validate_mrn(self, value):
        clash = Patient.objects.filter(mrn=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("Another patient already has this MRN.")
        return value

    def create(self, validated_data):
        if not validated_data.get("mrn"):
            # Patients entered by hand get a MedSync MRN until the pharmacy system's arrives.
            from uuid import uuid4

            validated_data["mrn"] = f"MS-{uuid4().hex[:10].upper()}"
        membership = getattr(self.context["request"], "membership", None)
        if membership is not None and membership.limited_to_pharmacies:
            # A member limited to some pharmacies enters patients of theirs (else the new
            # patient would at once be out of their sight).
            validated_data.setdefault("home_pharmacy", pharmacies_visible_to(membership).first())
        return super().create(validated_data)


# A prescriber; the NPI is unique in the organization.
class PrescriberSerializer(RecordSerializer):
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    fax = serializers.CharField(max_length=30, required=False, allow_blank=True)

    class Meta:
        model = Prescriber
        fields = ["id", "first_name", "last_name", "npi", "phone", "fax"]

    def validate_phone(self, value):
        return _phone(value) if value else value

    def validate_fax(self, value):
        return _phone(value) if value else value

    def validate_npi(self, value):
        clash = Prescriber.objects.filter(npi=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("A prescriber with this NPI already exists.")
        return value


# A payer plan of a patient: exactly one of copay or coinsurance unless cash.
class CoverageSerializer(RecordSerializer):
    patient = PublicIdField(queryset=Patient.objects, patient_field="")

    class Meta:
        model = Coverage
        fields = [
            "id",
            "patient",
            "payer_name",
            "bin",
            "pcn",
            "group",
            "member_id",
            "plan_type",
            "copay_amount",
            "coinsurance_percent",
            "coinsurance_minimum",
            "coinsurance_maximum",
            "benefit_phase",
            "effective_from",
            "effective_to",
            "rules_state",
            "priority",
        ]

    def validate(self, attrs):
        merged = {**{f: getattr(self.instance, f, None) for f in self.fields}, **attrs}
        plan_type = merged.get("plan_type")
        has_copay = merged.get("copay_amount") is not None
        has_coinsurance = merged.get("coinsurance_percent") is not None
        if plan_type != "cash" and has_copay == has_coinsurance:
            raise ValidationError(
                {"copay_amount": ["Give exactly one of copay_amount or coinsurance_percent."]}
            )
        if plan_type != "cash" and not merged.get("bin"):
            raise ValidationError(
                {"bin": ["A plan that bills a payer needs its 6-digit BIN (only cash has none)."]}
            )
        low, high = merged.get("coinsurance_minimum"), merged.get("coinsurance_maximum")
        if low is not None and high is not None and high < low:
            raise ValidationError(
                {"coinsurance_maximum": ["The maximum is below the coinsurance minimum."]}
            )
        return attrs


# A drug of the shared catalog (read only).
class DrugSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Drug
        fields = [
            "id",
            "ndc",
            "name",
            "generic_name",
            "strength",
            "dosage_form",
            "package_size",
            "package_unit",
            "unit_of_use",
            "dea_schedule",
            "is_antibiotic",
            "is_specialty",
            "therapeutic_classes",
            "beyond_use_days",
        ]


# A drug written as an NDC in any form and read as the drug object.
class DrugByNdcField(serializers.Field):
    def to_representation(self, value):
        # One DrugSerializer per field (per response): building its fields for every row
        # cost more than the rest of a prescription list.
        serializer = self.__dict__.get("_drug_serializer")
        if serializer is None:
            serializer = self.__dict__["_drug_serializer"] = DrugSerializer()
        return serializer.to_representation(value)

    def to_internal_value(self, data):
        try:
            ndc = normalize_ndc(str(data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from None
        drug = Drug.objects.filter(ndc=ndc).first()
        if drug is None:
            raise serializers.ValidationError(f"NDC {data} is not in the drug catalog.")
        return drug


class DrugByNdcFieldSchema(OpenApiSerializerFieldExtension):
    """In the OpenAPI document: an NDC string in requests, the Drug object in responses."""

    target_class = DrugByNdcField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return {"type": "string", "description": "NDC (any form)."}
        return auto_schema.resolve_serializer(DrugSerializer, direction).ref


# A prescription; the pharmacy defaults to your only one.
class PrescriptionSerializer(RecordSerializer):
    patient = PublicIdField(queryset=Patient.objects, patient_field="")
    prescriber = PublicIdField(queryset=Prescriber.objects, required=False, allow_null=True)
    pharmacy = serializers.SlugRelatedField(slug_field="public_id", read_only=True)
    pharmacy_id = serializers.UUIDField(
        write_only=True, required=False, help_text="Default: your only pharmacy."
    )
    drug = DrugByNdcField(help_text="Write an NDC (any form); read the drug.")
    coverage = PublicIdField(
        queryset=Coverage.objects,
        patient_field="patient",
        required=False,
        allow_null=True,
        help_text="The coverage billed (a coverage of the same patient); empty: planning uses "
        "the patient's primary coverage in force and says so.",
    )

    class Meta:
        model = Prescription
        fields = [
            "id",
            "rx_number",
            "pharmacy",
            "pharmacy_id",
            "patient",
            "drug",
            "prescriber",
            "coverage",
            "sig_text",
            "daily_dose",
            "quantity_per_fill",
            "days_supply",
            "refills_authorized",
            "refills_remaining",
            "written_date",
            "expiration_date",
            "status",
            "therapy_type",
            "sync_decision",
            "sync_exclusion_reason",
            "sync_decision_note",
            "sync_decided_at",
        ]
        read_only_fields = [
            "sync_decision",
            "sync_exclusion_reason",
            "sync_decision_note",
            "sync_decided_at",
        ]

    def validate(self, attrs):
        pharmacy_id = attrs.pop("pharmacy_id", None)
        if self.instance is None or pharmacy_id:
            pharmacies = pharmacies_visible_to(self.context["request"].membership)
            if pharmacy_id:
                pharmacy = pharmacies.filter(public_id=pharmacy_id).first()
                if pharmacy is None:
                    raise ValidationError({"pharmacy_id": ["No such pharmacy."]})
            else:
                found = list(pharmacies[:2])
                if len(found) != 1:
                    raise ValidationError({"pharmacy_id": ["Name the pharmacy: you have several."]})
                pharmacy = found[0]
            attrs["pharmacy"] = pharmacy
        patient = attrs.get("patient") or getattr(self.instance, "patient", None)
        coverage = attrs.get("coverage", getattr(self.instance, "coverage", None))
        if coverage is not None and patient is not None and coverage.patient_id != patient.pk:
            raise ValidationError({"coverage": ["This coverage belongs to another patient."]})
        merged_pharmacy = attrs.get("pharmacy") or getattr(self.instance, "pharmacy", None)
        rx_number = attrs.get("rx_number") or getattr(self.instance, "rx_number", None)
        clash = Prescription.objects.filter(pharmacy=merged_pharmacy, rx_number=rx_number)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError({"rx_number": ["This rx number exists at this pharmacy."]})
        return attrs


# A fill of a prescription: never before it was written, one per date.
class FillSerializer(RecordSerializer):
    prescription = PublicIdField(queryset=Prescription.objects, patient_field="patient")

    class Meta:
        model = Fill
        fields = [
            "id",
            "prescription",
            "fill_date",
            "quantity",
            "days_supply",
            "fill_number",
            "scc_codes",
            "patient_pay",
            "picked_up_at",
            "returned_to_stock_at",
        ]

    def validate(self, attrs):
        prescription = attrs.get("prescription") or getattr(self.instance, "prescription", None)
        fill_date = attrs.get("fill_date") or getattr(self.instance, "fill_date", None)
        errors = {}
        if prescription and fill_date and fill_date < prescription.written_date:
            errors["fill_date"] = [
                f"The fill date is before the prescription was written "
                f"({prescription.written_date})."
            ]
        if "quantity" in attrs and attrs["quantity"] <= 0:
            errors["quantity"] = ["Quantity must be more than 0."]
        if "days_supply" in attrs and attrs["days_supply"] <= 0:
            errors["days_supply"] = ["Days supply must be at least 1."]
        clash = Fill.objects.filter(prescription=prescription, fill_date=fill_date)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if prescription and fill_date and clash.exists():
            errors["fill_date"] = ["This prescription already has a fill on this date."]
        if errors:
            raise ValidationError(errors)
        return attrs
