"""The sync engine's API: enrollments, cycles, a patient's anchor options and a plan preview.

Everything is looked up inside the caller's organization: another organization's patient,
prescription, enrollment or cycle is a 404. Writes go through scheduling.services.
"""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from medsync.api.audit import AuditedListMixin
from medsync.api.base import TenantReadOnlyViewSet
from medsync.api.fields import BoundedDateField, date_param
from medsync.api.rows import RowShape
from medsync.roles import Perm
from patients.services import patient_viewed
from scheduling import selectors, services
from scheduling.dates import local_today, next_anchor_on_or_after
from scheduling.models import (
    CYCLE_LENGTHS,
    ConsentMethod,
    ConsentRelationship,
    ContactChannel,
    CycleItem,
    CycleStatus,
    DisenrollReason,
    EnrollmentStatus,
    Fulfillment,
    SyncCycle,
    SyncEnrollment,
)

# --- Serializers ----------------------------------------------------------------------------


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    earliest_allowed = serializers.DateField(required=False)
    needed_by = serializers.DateField(required=False)
    drift_days = serializers.IntegerField(required=False)


class EnrollmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    pharmacy = serializers.UUIDField(source="pharmacy.public_id", read_only=True)
    next_anchor_date = serializers.SerializerMethodField()

    class Meta:
        model = SyncEnrollment
        fields = [
            "id",
            "patient",
            "patient_name",
            "pharmacy",
            "status",
            "cycle_days",
            "anchor_date",
            "next_anchor_date",
            "preferred_weekday",
            "preferred_day_of_month",
            "fulfillment",
            "contact_channel",
            "consent_given_by",
            "consent_relationship",
            "consent_method",
            "consent_at",
            "enrolled_at",
            "paused_at",
            "pause_reason",
            "disenrolled_at",
            "disenroll_reason",
            "created_at",
        ]

    def get_next_anchor_date(self, enrollment) -> dt.date | None:
        if enrollment.anchor_date is None or enrollment.status != EnrollmentStatus.ENROLLED:
            return None
        today = selectors.pharmacy_today(enrollment.pharmacy)
        return next_anchor_on_or_after(enrollment.anchor_date, enrollment.cycle_days, today)


class EnrollSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    prescriptions = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)
    anchor_date = BoundedDateField()
    cycle_days = serializers.ChoiceField(choices=CYCLE_LENGTHS)
    consent_given_by = serializers.CharField(max_length=200)
    consent_relationship = serializers.ChoiceField(
        choices=ConsentRelationship.choices, default=ConsentRelationship.SELF
    )
    consent_method = serializers.ChoiceField(choices=ConsentMethod.choices)
    consent_at = serializers.DateTimeField(required=False)
    preferred_weekday = serializers.IntegerField(
        min_value=0, max_value=6, required=False, allow_null=True
    )
    preferred_day_of_month = serializers.IntegerField(
        min_value=1, max_value=31, required=False, allow_null=True
    )
    fulfillment = serializers.ChoiceField(choices=Fulfillment.choices, default=Fulfillment.PICKUP)
    contact_channel = serializers.ChoiceField(
        choices=ContactChannel.choices, default=ContactChannel.SMS
    )


class PauseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
    until = BoundedDateField(required=False, allow_null=True)


class DisenrollSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=DisenrollReason.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CycleItemSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    prescription = serializers.UUIDField(source="prescription.public_id", read_only=True)
    rx_number = serializers.CharField(source="prescription.rx_number", read_only=True)
    drug = serializers.SerializerMethodField()

    class Meta:
        model = CycleItem
        fields = [
            "id",
            "prescription",
            "rx_number",
            "drug",
            "fill_date",
            "kind",
            "quantity",
            "days_supply",
            "supply_start",
            "scc_codes",
            "patient_pay",
            "state",
            "flag_reason",
            "warnings",
        ]

    def get_drug(self, item) -> str:
        drug = item.prescription.drug
        return f"{drug.name} {drug.strength}"

    def to_representation(self, item):
        # The same fields as Meta, written out: a page of cycles shows a hundred or more
        # items, and DRF's field-by-field machinery was most of the list's time.
        rx, fields = item.prescription, self.fields
        return {
            "id": str(item.public_id),
            "prescription": str(rx.public_id),
            "rx_number": rx.rx_number,
            "drug": self.get_drug(item),
            "fill_date": item.fill_date.isoformat(),
            "kind": item.kind,
            "quantity": fields["quantity"].to_representation(item.quantity),
            "days_supply": item.days_supply,
            "supply_start": item.supply_start.isoformat() if item.supply_start else None,
            "scc_codes": list(item.scc_codes),
            "patient_pay": (
                None
                if item.patient_pay is None
                else fields["patient_pay"].to_representation(item.patient_pay)
            ),
            "state": item.state,
            "flag_reason": item.flag_reason,
            "warnings": item.warnings,
        }


class CycleSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    enrollment = serializers.UUIDField(source="enrollment.public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    pharmacy = serializers.UUIDField(source="pharmacy.public_id", read_only=True)
    items = CycleItemSerializer(many=True, read_only=True)

    class Meta:
        model = SyncCycle
        fields = [
            "id",
            "enrollment",
            "patient",
            "pharmacy",
            "anchor_date",
            "prep_due_on",
            "prefill_due_on",
            "status",
            "contact_outcome",
            "close_reason",
            "needs_renewal",
            "contacted_at",
            "ready_at",
            "picked_up_at",
            "missed_at",
            "closed_at",
            "items",
        ]


def _next_anchor_date(row: dict) -> dt.date | None:
    # EnrollmentSerializer.get_next_anchor_date, from a row.
    if row["anchor_date"] is None or row["status"] != EnrollmentStatus.ENROLLED:
        return None
    today = local_today(row["pharmacy__time_zone"])
    return next_anchor_on_or_after(row["anchor_date"], row["cycle_days"], today)


# The lists' rows (medsync.api.rows): the serializers' output without a model object per row.
ENROLLMENT_ROWS = RowShape(
    EnrollmentSerializer,
    computed={
        "patient_name": (
            ("patient__first_name", "patient__last_name"),
            lambda row: f"{row['patient__first_name']} {row['patient__last_name']}",
        ),
        "next_anchor_date": (
            ("anchor_date", "status", "cycle_days", "pharmacy__time_zone"),
            _next_anchor_date,
        ),
    },
)
CYCLE_ITEM_ROWS = RowShape(
    CycleItemSerializer,
    computed={
        "drug": (
            ("prescription__drug__name", "prescription__drug__strength"),
            lambda row: f"{row['prescription__drug__name']} {row['prescription__drug__strength']}",
        )
    },
)
CYCLE_ROWS = RowShape(CycleSerializer, computed={"items": ((), lambda row: row["items"])})


class EnrollmentViewSet(AuditedListMixin, mixins.CreateModelMixin, TenantReadOnlyViewSet):
    """Sync enrollments. POST enrolls a patient (consent, prescriptions, anchor) in one step;
    pause, resume and disenroll are actions. Filters: ?status=, ?pharmacy=<id>."""

    serializer_class = EnrollmentSerializer
    queryset = SyncEnrollment.objects.none()
    list_audit_action = "scheduling.enrollment.listed"
    list_shape = ENROLLMENT_ROWS
    list_row_columns = ("patient__public_id",)

    def audit_targets(self, rows):
        return [("patients.patient", row["patient__public_id"]) for row in rows]

    required_permission = {
        "list": Perm.VIEW_PATIENTS,
        "retrieve": Perm.VIEW_PATIENTS,
        "create": Perm.MANAGE_ENROLLMENT,
        "pause": Perm.MANAGE_ENROLLMENT,
        "resume": Perm.MANAGE_ENROLLMENT,
        "disenroll": Perm.MANAGE_ENROLLMENT,
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[s.value for s in EnrollmentStatus]),
            OpenApiParameter("pharmacy", OpenApiTypes.UUID),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        status_filter = self.request.query_params.get("status", "")
        if status_filter and status_filter not in EnrollmentStatus.values:
            raise ValidationError({"status": [f"One of {', '.join(EnrollmentStatus.values)}."]})
        return selectors.enrollment_list(
            membership=self.request.membership,
            status=status_filter,
            pharmacy_public_id=self.request.query_params.get("pharmacy", ""),
        )

    def retrieve(self, request, *args, **kwargs):
        enrollment = self.get_object()
        patient_viewed(patient=enrollment.patient, actor=request.user, via="api.enrollment")
        return Response(self.get_serializer(enrollment).data)

    @extend_schema(request=EnrollSerializer, responses={201: EnrollmentSerializer})
    def create(self, request, *args, **kwargs):
        data = EnrollSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = selectors.patient_by_public_id(
            values.pop("patient"), membership=request.membership
        )
        prescriptions = selectors.chosen_prescriptions(patient, values.pop("prescriptions"))
        enrollment = services.enrollment_enroll(
            patient=patient, actor=request.user, prescriptions=prescriptions, **values
        )
        enrollment = selectors.enrollment_list().get(pk=enrollment.pk)
        return Response(self.get_serializer(enrollment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PauseSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, *args, **kwargs):
        enrollment = self.get_object()  # someone else's is a 404 before any 400
        data = PauseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enrollment = services.enrollment_pause(
            enrollment=enrollment, actor=request.user, **data.validated_data
        )
        return Response(self.get_serializer(enrollment).data)

    @extend_schema(request=None, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, *args, **kwargs):
        enrollment = services.enrollment_resume(enrollment=self.get_object(), actor=request.user)
        return Response(self.get_serializer(enrollment).data)

    @extend_schema(request=DisenrollSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def disenroll(self, request, *args, **kwargs):
        enrollment = self.get_object()  # someone else's is a 404 before any 400
        data = DisenrollSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enrollment = services.enrollment_disenroll(
            enrollment=enrollment, actor=request.user, **data.validated_data
        )
        return Response(self.get_serializer(enrollment).data)


class CycleViewSet(AuditedListMixin, TenantReadOnlyViewSet):
    """Sync cycles with their fills. Filters: ?status=, ?anchor_date=YYYY-MM-DD."""

    serializer_class = CycleSerializer
    list_audit_action = "scheduling.cycle.listed"
    list_shape = CYCLE_ROWS
    list_row_columns = ("pk", "patient__public_id")

    def audit_targets(self, rows):
        return [("patients.patient", row["patient__public_id"]) for row in rows]

    def list_rows_extend(self, rows):
        items = selectors.cycle_item_rows(
            [row["pk"] for row in rows], columns=CYCLE_ITEM_ROWS.columns
        )
        for row in rows:
            row["items"] = CYCLE_ITEM_ROWS.many(items.get(row["pk"], ()))

    queryset = SyncCycle.objects.none()
    required_permission = Perm.VIEW_FILL_QUEUE

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[s.value for s in CycleStatus]),
            OpenApiParameter("anchor_date", OpenApiTypes.DATE),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        params = self.request.query_params
        status_filter = params.get("status", "")
        if status_filter and status_filter not in CycleStatus.values:
            raise ValidationError({"status": [f"One of {', '.join(CycleStatus.values)}."]})
        anchor = (
            date_param(self.request, "anchor_date", None) if params.get("anchor_date") else None
        )
        return selectors.cycle_list(
            membership=self.request.membership, status=status_filter, anchor_date=anchor
        )

    def retrieve(self, request, *args, **kwargs):
        cycle = self.get_object()
        patient_viewed(patient=cycle.patient, actor=request.user, via="api.cycle")
        return Response(self.get_serializer(cycle).data)
