"""The patient-records API: patients, prescriptions, fills, prescribers, coverage, drugs and
imports. Filters are declared explicitly: django-filter would otherwise query the (scoped)
default manager while the module loads."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from medsync.api.base import TenantAPIMixin, TenantModelViewSet
from medsync.jobs import enqueue_for_organization
from medsync.roles import Perm
from medsync.services import audit_record
from medsync.validators import normalize_phone
from patients import selectors, services
from patients.models import (
    Coverage,
    Drug,
    Fill,
    ImportBatch,
    Patient,
    Prescriber,
    Prescription,
)
from patients.validators import normalize_ndc

READ_WRITE = {
    "list": Perm.VIEW_PATIENTS,
    "retrieve": Perm.VIEW_PATIENTS,
    "create": Perm.EDIT_PATIENTS,
    "update": Perm.EDIT_PATIENTS,
    "partial_update": Perm.EDIT_PATIENTS,
    "destroy": Perm.EDIT_PATIENTS,
}


class PublicIdField(serializers.SlugRelatedField):
    """A reference by public id (UUID), resolved inside the caller's tenant."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="public_id", **kwargs)

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


class PatientSerializer(RecordSerializer):
    home_pharmacy = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, help_text="Pharmacy id."
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_phone(self, value):
        return _phone(value)

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
        return super().create(validated_data)


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


class CoverageSerializer(RecordSerializer):
    patient = PublicIdField(queryset=Patient.objects)

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
        return attrs


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


@extend_schema_field(
    {"type": "string", "description": "NDC on write (any form); the drug object on read."}
)
class DrugByNdcField(serializers.Field):
    def to_representation(self, value):
        return DrugSerializer(value).data

    def to_internal_value(self, data):
        try:
            ndc = normalize_ndc(str(data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from None
        drug = Drug.objects.filter(ndc=ndc).first()
        if drug is None:
            raise serializers.ValidationError(f"NDC {data} is not in the drug catalog.")
        return drug


class PrescriptionSerializer(RecordSerializer):
    patient = PublicIdField(queryset=Patient.objects)
    prescriber = PublicIdField(queryset=Prescriber.objects, required=False, allow_null=True)
    pharmacy = serializers.SlugRelatedField(slug_field="public_id", read_only=True)
    pharmacy_id = serializers.UUIDField(
        write_only=True, required=False, help_text="Default: your only pharmacy."
    )
    drug = DrugByNdcField(help_text="Write an NDC (any form); read the drug.")

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
        from medsync.selectors import pharmacies_visible_to

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
        merged_pharmacy = attrs.get("pharmacy") or getattr(self.instance, "pharmacy", None)
        rx_number = attrs.get("rx_number") or getattr(self.instance, "rx_number", None)
        clash = Prescription.objects.filter(pharmacy=merged_pharmacy, rx_number=rx_number)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError({"rx_number": ["This rx number exists at this pharmacy."]})
        return attrs


class FillSerializer(RecordSerializer):
    prescription = PublicIdField(queryset=Prescription.objects)

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


# --- Filters -----------------------------------------------------------------------------------


class PatientFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Name, DOB, phone or rx")
    status = django_filters.CharFilter()

    class Meta:
        model = Patient
        fields = ["status"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(pk__in=selectors.patient_search(value).values("pk"))


class PrescriptionFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    status = django_filters.CharFilter()
    sync_decision = django_filters.CharFilter()

    class Meta:
        model = Prescription
        fields = ["patient", "status", "sync_decision"]


class FillFilter(django_filters.FilterSet):
    prescription = django_filters.UUIDFilter(field_name="prescription__public_id")
    patient = django_filters.UUIDFilter(field_name="prescription__patient__public_id")
    since = django_filters.DateFilter(field_name="fill_date", lookup_expr="gte")

    class Meta:
        model = Fill
        fields = ["prescription", "patient", "since"]


class CoverageFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    plan_type = django_filters.CharFilter()

    class Meta:
        model = Coverage
        fields = ["patient", "plan_type"]


class PrescriberFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search")
    npi = django_filters.CharFilter()

    class Meta:
        model = Prescriber
        fields = ["npi"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(last_name__istartswith=value)


class DrugFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Name or NDC (any form)")
    therapeutic_class = django_filters.CharFilter(
        field_name="therapeutic_classes", lookup_expr="contains", method="filter_class"
    )

    class Meta:
        model = Drug
        fields = ["dosage_form", "unit_of_use", "dea_schedule"]

    def filter_search(self, queryset, name, value):
        try:
            return queryset.filter(ndc=normalize_ndc(value))
        except DjangoValidationError:
            return queryset.filter(name__icontains=value) | queryset.filter(
                generic_name__icontains=value
            )

    def filter_class(self, queryset, name, value):
        return queryset.filter(therapeutic_classes__contains=[value])


# --- Viewsets ----------------------------------------------------------------------------------


class AuditedRecordViewSet(TenantModelViewSet):
    required_permission = READ_WRITE

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        patient = self._patient_of(self.get_object())
        services.patient_viewed(patient=patient, actor=request.user, via="api")
        return response

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit_record(
            action=f"patients.{self.queryset.model._meta.model_name}.listed",
            actor=request.user,
            metadata={"count": response.data.get("count"), "filters": sorted(request.GET)},
        )
        return response

    def _patient_of(self, obj) -> Patient:
        raise NotImplementedError

    def perform_destroy(self, instance):
        services.audit_record(
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


class PrescriptionViewSet(AuditedRecordViewSet):
    serializer_class = PrescriptionSerializer
    filterset_class = PrescriptionFilter
    queryset = Prescription.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Prescription.objects.select_related(
            "patient", "drug", "prescriber", "pharmacy"
        ).order_by("patient_id", "rx_number")

    def _patient_of(self, obj):
        return obj.patient

    def perform_destroy(self, instance):
        # A prescription is never erased: DELETE discontinues it, history stays.
        services.record_save(
            instance=instance, actor=self.request.user, fields={"status": "discontinued"}
        )


class FillViewSet(AuditedRecordViewSet):
    serializer_class = FillSerializer
    filterset_class = FillFilter
    queryset = Fill.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Fill.objects.select_related("prescription__patient").order_by("-fill_date", "-id")

    def _patient_of(self, obj):
        return obj.prescription.patient


class CoverageViewSet(AuditedRecordViewSet):
    serializer_class = CoverageSerializer
    filterset_class = CoverageFilter
    queryset = Coverage.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Coverage.objects.select_related("patient").order_by("patient_id", "priority")

    def _patient_of(self, obj):
        return obj.patient


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


# --- Imports -----------------------------------------------------------------------------------


class ImportFileSerializer(serializers.Serializer):
    filename = serializers.CharField()
    kind = serializers.CharField()
    rows_total = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField(), help_text="[{line, reason}]")
    warnings = serializers.ListField(child=serializers.DictField())


class ImportBatchSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    files = ImportFileSerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "status",
            "source",
            "created_at",
            "previewed_at",
            "apply_requested_at",
            "applied_at",
            "failure_message",
            "files",
            "progress",
        ]

    def get_progress(self, batch) -> dict | None:
        return services.import_progress(batch)


class ImportViewSet(
    TenantAPIMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Upload CSV files (multipart, field `files`, repeatable); they are checked in the
    background (status `previewing` -> `previewed`). Read the preview, then POST
    `confirm/` to import the good rows (`applying` -> `applied`)."""

    serializer_class = ImportBatchSerializer
    required_permission = Perm.IMPORT_RECORDS
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    queryset = ImportBatch.objects.none()
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return ImportBatch.objects.prefetch_related("files").order_by("-created_at")

    @extend_schema(
        request=inline_serializer(
            "ImportUpload",
            {"files": serializers.ListField(child=serializers.FileField())},
        ),
        responses={201: ImportBatchSerializer},
    )
    def create(self, request, *args, **kwargs):
        uploads = request.FILES.getlist("files")
        try:
            files = [(f.name, services.decode_upload(f.name, f.read())) for f in uploads]
            batch = services.import_batch_create(files=files, source="api", actor=request.user)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        from patients.tasks import import_preview

        enqueue_for_organization(
            import_preview, request.organization, batch_id=str(batch.public_id)
        )
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: ImportBatchSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, id=None):
        batch = self.get_object()
        if not services.import_batch_request_apply(batch=batch, actor=request.user):
            raise ValidationError(
                {
                    "status": [
                        "Only a previewed import that nobody confirmed yet can be confirmed "
                        f"(this one is {batch.status})."
                    ]
                }
            )
        batch.refresh_from_db()
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)
