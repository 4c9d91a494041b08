"""The API of documented services, their claim lines and exports (mounted under /api/v1/).

Another organization's service, line or export is a 404; a patient, pharmacy or payer of
another organization named in a body is a 400 naming the field; nothing is written then.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing import service_claim_selectors as selectors
from billing import service_claim_services as services
from billing.api_fields import ServiceCreateSerializer
from billing.models import (
    ClinicalService,
    ExportFormat,
    LineStatus,
    MedicalPayer,
    ServiceClaimExport,
    ServiceClaimLine,
)
from medsync.api.base import TenantReadOnlyViewSet
from medsync.api.fields import BoundedDateField
from medsync.roles import Perm
from medsync.selectors import pharmacies_visible_to
from medsync.services import AuditEntry, audit_record, audit_record_many
from patients.models import Coverage
from patients.services import patient_viewed
from patients.visibility import visible_patients


def _in_tenant(queryset, value, field: str, label: str):
    found = queryset.filter(public_id=value).first() if value else None
    if found is None:
        raise ValidationError({field: [f"No such {label} in your organization."]})
    return found


class LineSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    service = serializers.UUIDField(source="service.public_id", read_only=True)

    class Meta:
        model = ServiceClaimLine
        fields = [
            "id",
            "service",
            "line_number",
            "code",
            "modifiers",
            "units",
            "charge",
            "diagnosis_pointers",
            "rendering_npi",
            "place_of_service",
            "status",
            "status_changed_at",
            "paid_amount",
            "denial_reason",
        ]


class ServiceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    pharmacy = serializers.UUIDField(source="pharmacy.public_id", read_only=True)
    pharmacist = serializers.UUIDField(source="pharmacist.public_id", read_only=True)
    payer = serializers.SerializerMethodField()
    minutes = serializers.IntegerField(read_only=True)
    lines = LineSerializer(many=True, read_only=True)

    class Meta:
        model = ClinicalService
        fields = [
            "id",
            "patient",
            "pharmacy",
            "kind",
            "pharmacist",
            "new_patient",
            "started_at",
            "ended_at",
            "minutes",
            "assessed",
            "findings",
            "actions",
            "diagnosis_codes",
            "procedure_code",
            "follow_up",
            "follow_up_on",
            "payer",
            "documented_at",
            "lines",
        ]

    def get_payer(self, service) -> str | None:
        return str(service.payer.public_id) if service.payer_id else None


class ServiceViewSet(mixins.CreateModelMixin, TenantReadOnlyViewSet):
    """Documented clinical services with their billable lines. POST documents a service
    performed without an appointment. ?patient=<id>, ?kind=."""

    serializer_class = ServiceSerializer
    queryset = ClinicalService.objects.none()
    required_permission = {
        "list": Perm.VIEW_PATIENTS,
        "retrieve": Perm.VIEW_PATIENTS,
        "create": Perm.VERIFY_FILLS,
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("patient", OpenApiTypes.UUID),
            OpenApiParameter("kind", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        params = self.request.query_params
        services_qs = selectors.service_list(membership=self.request.membership)
        if params.get("patient"):
            try:
                services_qs = services_qs.filter(
                    patient__public_id=serializers.UUIDField().to_internal_value(params["patient"])
                )
            except serializers.ValidationError:
                raise ValidationError({"patient": ["A UUID."]}) from None
        if params.get("kind"):
            services_qs = services_qs.filter(kind=params["kind"])
        return services_qs

    def list_audit(self, rows) -> None:
        audit_record_many(
            [
                AuditEntry("patients.patient.viewed", row.patient, metadata={"via": "api.service"})
                for row in rows
            ],
            actor=self.request.user,
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page:
            self.list_audit(page)
        return page

    def retrieve(self, request, *args, **kwargs):
        service = self.get_object()
        patient_viewed(patient=service.patient, actor=request.user, via="api.service")
        return Response(self.get_serializer(service).data)

    @extend_schema(request=ServiceCreateSerializer, responses={201: ServiceSerializer})
    def create(self, request, *args, **kwargs):
        data = ServiceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = _in_tenant(
            visible_patients(request.membership), values.pop("patient"), "patient", "patient"
        )
        pharmacy = _in_tenant(
            pharmacies_visible_to(request.membership),
            values.pop("pharmacy"),
            "pharmacy",
            "pharmacy",
        )
        payer_id = values.pop("payer", None)
        coverage_id = values.pop("coverage", None)
        if payer_id:
            values["payer"] = _in_tenant(MedicalPayer.objects.all(), payer_id, "payer", "payer")
        if coverage_id:
            values["coverage"] = _in_tenant(
                Coverage.objects.filter(patient=patient), coverage_id, "coverage", "coverage"
            )
        service = services.clinical_service_document(
            patient=patient,
            pharmacy=pharmacy,
            pharmacist=request.user,
            actor=request.user,
            **values,
        )
        service = selectors.service_list().get(pk=service.pk)
        return Response(self.get_serializer(service).data, status=status.HTTP_201_CREATED)


class LineStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[LineStatus.PAID, LineStatus.DENIED])
    paid_amount = serializers.DecimalField(
        max_digits=9, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True
    )
    denial_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ClaimLineViewSet(TenantReadOnlyViewSet):
    """Service claim lines. ?status=ready|exported|paid|denied. `status` records the payer's
    answer (paid with the amount, or denied with the reason)."""

    serializer_class = LineSerializer
    queryset = ServiceClaimLine.objects.none()
    required_permission = {
        "list": Perm.VIEW_REPORTS,
        "retrieve": Perm.VIEW_REPORTS,
        "status": Perm.VERIFY_FILLS,
    }

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=LineStatus.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        wanted = self.request.query_params.get("status", "")
        if wanted and wanted not in LineStatus.values:
            raise ValidationError({"status": [f"One of {', '.join(LineStatus.values)}."]})
        return selectors.line_list(membership=self.request.membership, status=wanted)

    @extend_schema(request=LineStatusSerializer, responses=LineSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, *args, **kwargs):
        line = self.get_object()
        data = LineStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        line = services.claim_line_set_status(
            line=line,
            status=data.validated_data["status"],
            paid_amount=data.validated_data.get("paid_amount"),
            denial_reason=data.validated_data.get("denial_reason", ""),
            actor=request.user,
        )
        return Response(self.get_serializer(line).data)


class ExportSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    pharmacy = serializers.UUIDField(source="pharmacy.public_id", read_only=True)
    payer = serializers.UUIDField(source="payer.public_id", read_only=True)

    class Meta:
        model = ServiceClaimExport
        fields = [
            "id",
            "pharmacy",
            "payer",
            "format",
            "date_from",
            "date_to",
            "control_number",
            "created_at",
        ]


class ExportRequestSerializer(serializers.Serializer):
    pharmacy = serializers.UUIDField()
    payer = serializers.UUIDField()
    date_from = BoundedDateField()
    date_to = BoundedDateField()
    format = serializers.ChoiceField(choices=ExportFormat.choices)


class ExportViewSet(mixins.CreateModelMixin, TenantReadOnlyViewSet):
    """Exports of ready service lines per payer and date range, as X12 837P or CMS-1500 PDF.
    A line is in one export at most (the database refuses a second). `file` downloads it."""

    serializer_class = ExportSerializer
    queryset = ServiceClaimExport.objects.none()
    required_permission = {
        "list": Perm.VIEW_REPORTS,
        "retrieve": Perm.VIEW_REPORTS,
        "create": Perm.VERIFY_FILLS,
        "file": Perm.VIEW_REPORTS,
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.export_list(membership=self.request.membership)

    @extend_schema(request=ExportRequestSerializer, responses={201: ExportSerializer})
    def create(self, request, *args, **kwargs):
        data = ExportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pharmacy = _in_tenant(
            pharmacies_visible_to(request.membership), values["pharmacy"], "pharmacy", "pharmacy"
        )
        payer = _in_tenant(MedicalPayer.objects.all(), values["payer"], "payer", "payer")
        export = services.service_claims_export(
            pharmacy=pharmacy,
            payer=payer,
            date_from=values["date_from"],
            date_to=values["date_to"],
            export_format=values["format"],
            actor=request.user,
        )
        return Response(self.get_serializer(export).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="X12 837P"),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="CMS-1500"),
        }
    )
    @action(detail=True, methods=["get"])
    def file(self, request, *args, **kwargs):
        export = self.get_object()
        return export_file_response(export, actor=request.user)


def export_file_response(export: ServiceClaimExport, *, actor) -> HttpResponse:
    """The stored file as a download (audited: it holds patients' names and diagnoses)."""
    pdf = export.format == ExportFormat.CMS1500
    name = f"claims-{export.control_number:09d}.{'pdf' if pdf else '837'}"
    response = HttpResponse(
        bytes(export.content), content_type="application/pdf" if pdf else "text/plain"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    audit_record(action="billing.service_claim_export.downloaded", actor=actor, target=export)
    return response
