"""The API of appointments and extra-service offers (mounted under /api/v1/).

Everything is looked up inside the caller's organization and what the member may see: another
organization's appointment is a 404; a pharmacy, patient, pharmacist or cycle of another
organization named in a body is a 400 naming the field, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing.api_fields import BoundedDateTimeField, ServiceDocumentationSerializer
from billing.models import MedicalPayer
from medsync.api.base import TenantReadOnlyViewSet
from medsync.api.fields import date_param
from medsync.roles import Perm
from medsync.selectors import pharmacies_visible_to
from patients.models import Coverage
from patients.services import patient_viewed
from patients.visibility import visible_patients
from scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    OfferAnswer,
    OfferKind,
    OfferPlace,
    ServiceOffer,
    SyncCycle,
)
from scheduling.selectors import appointments as selectors
from scheduling.services import appointments as services


class AppointmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    pharmacy = serializers.UUIDField(source="pharmacy.public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    pharmacist = serializers.UUIDField(source="pharmacist.public_id", read_only=True)
    pharmacist_name = serializers.CharField(source="pharmacist.__str__", read_only=True)
    service = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = [
            "id",
            "pharmacy",
            "patient",
            "patient_name",
            "kind",
            "pharmacist",
            "pharmacist_name",
            "starts_at",
            "ends_at",
            "room",
            "status",
            "service",
            "booked_at",
        ]

    def get_service(self, appointment) -> str | None:
        return str(appointment.service.public_id) if appointment.service_id else None


class BookSerializer(serializers.Serializer):
    pharmacy = serializers.UUIDField()
    patient = serializers.UUIDField()
    pharmacist = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=AppointmentKind.choices)
    starts_at = BoundedDateTimeField()
    ends_at = BoundedDateTimeField(required=False)
    minutes = serializers.IntegerField(min_value=5, max_value=240, required=False)
    room = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    cycle = serializers.UUIDField(required=False, allow_null=True)


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[AppointmentStatus.DONE, AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED]
    )


class OfferSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)

    class Meta:
        model = ServiceOffer
        fields = ["id", "patient", "kind", "detail", "place", "answer", "offered_at"]


class OfferCreateSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=OfferKind.choices)
    detail = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    place = serializers.ChoiceField(choices=OfferPlace.choices)
    answer = serializers.ChoiceField(choices=OfferAnswer.choices)


def _in_tenant(queryset, value, field: str, label: str):
    found = queryset.filter(public_id=value).first() if value else None
    if found is None:
        raise ValidationError({field: [f"No such {label} in your organization."]})
    return found


def patient_for(request, value, field: str = "patient"):
    return _in_tenant(visible_patients(request.membership), value, field, "patient")


class AppointmentViewSet(mixins.CreateModelMixin, TenantReadOnlyViewSet):
    """Appointments on the pharmacies' calendars. POST books (the database refuses a second
    booking of a pharmacist at an overlapping time: a 400 naming starts_at); `status` marks
    done, no-show or cancelled; `document` records the service performed.
    Filters: ?pharmacy=<id>, ?date_from=, ?date_to= (the pharmacy's local days)."""

    serializer_class = AppointmentSerializer
    queryset = Appointment.objects.none()
    required_permission = {
        "list": Perm.VIEW_PATIENTS,
        "retrieve": Perm.VIEW_PATIENTS,
        "create": Perm.VIEW_PATIENTS,
        "status": Perm.VIEW_PATIENTS,
        "document": Perm.VERIFY_FILLS,
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("pharmacy", OpenApiTypes.UUID),
            OpenApiParameter("date_from", OpenApiTypes.DATE),
            OpenApiParameter("date_to", OpenApiTypes.DATE),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        params = self.request.query_params
        appointments = selectors.appointment_list(membership=self.request.membership)
        visible = pharmacies_visible_to(self.request.membership)
        pharmacy = None
        if params.get("pharmacy"):
            pharmacy = _in_tenant(
                visible, _uuid(params["pharmacy"], "pharmacy"), "pharmacy", "pharmacy"
            )
            appointments = appointments.filter(pharmacy=pharmacy)
        # Days are the pharmacy's local days (without ?pharmacy=, the first one's).
        where = pharmacy or visible.first()
        zone = ZoneInfo(where.time_zone if where else "UTC")
        if params.get("date_from"):
            start = date_param(self.request, "date_from", None)
            appointments = appointments.filter(
                ends_at__gt=dt.datetime.combine(start, dt.time.min, tzinfo=zone)
            )
        if params.get("date_to"):
            end = date_param(self.request, "date_to", None) + dt.timedelta(days=1)
            appointments = appointments.filter(
                starts_at__lt=dt.datetime.combine(end, dt.time.min, tzinfo=zone)
            )
        return appointments

    def retrieve(self, request, *args, **kwargs):
        appointment = self.get_object()
        patient_viewed(patient=appointment.patient, actor=request.user, via="api.appointment")
        return Response(self.get_serializer(appointment).data)

    @extend_schema(request=BookSerializer, responses={201: AppointmentSerializer})
    def create(self, request, *args, **kwargs):
        data = BookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pharmacy = _in_tenant(
            pharmacies_visible_to(request.membership), values["pharmacy"], "pharmacy", "pharmacy"
        )
        patient = patient_for(request, values["patient"])
        pharmacist = selectors.pharmacist_by_public_id(values["pharmacist"])
        if pharmacist is None:
            raise ValidationError({"pharmacist": ["No such pharmacist in your organization."]})
        cycle = None
        if values.get("cycle"):
            cycle = _in_tenant(SyncCycle.objects.all(), values["cycle"], "cycle", "cycle")
        ends_at = values.get("ends_at")
        if ends_at is None:
            if "minutes" not in values:
                raise ValidationError({"ends_at": ["Give ends_at or minutes."]})
            ends_at = values["starts_at"] + dt.timedelta(minutes=values["minutes"])
        appointment = services.appointment_book(
            pharmacy=pharmacy,
            patient=patient,
            kind=values["kind"],
            pharmacist=pharmacist,
            starts_at=values["starts_at"],
            ends_at=ends_at,
            room=values["room"],
            cycle=cycle,
            actor=request.user,
        )
        return Response(self.get_serializer(appointment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StatusSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, *args, **kwargs):
        appointment = self.get_object()
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appointment = services.appointment_set_status(
            appointment=appointment, status=data.validated_data["status"], actor=request.user
        )
        return Response(self.get_serializer(appointment).data)

    @extend_schema(request=ServiceDocumentationSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def document(self, request, *args, **kwargs):
        appointment = self.get_object()
        data = ServiceDocumentationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        payer_id = values.pop("payer", None)
        coverage_id = values.pop("coverage", None)
        if payer_id:
            values["payer"] = _in_tenant(MedicalPayer.objects.all(), payer_id, "payer", "payer")
        if coverage_id:
            values["coverage"] = _in_tenant(
                Coverage.objects.filter(patient=appointment.patient),
                coverage_id,
                "coverage",
                "coverage of this patient",
            )
        services.appointment_document(appointment=appointment, actor=request.user, **values)
        appointment.refresh_from_db()
        return Response(self.get_serializer(appointment).data)


def _uuid(value: str, field: str) -> str:
    try:
        return str(serializers.UUIDField().to_internal_value(value))
    except serializers.ValidationError:
        raise ValidationError({field: ["A UUID."]}) from None


class ServiceOfferViewSet(mixins.CreateModelMixin, TenantReadOnlyViewSet):
    """Extra services offered and the answers (accepted, declined, later). ?patient=<id>."""

    serializer_class = OfferSerializer
    queryset = ServiceOffer.objects.none()
    required_permission = Perm.VIEW_PATIENTS

    @extend_schema(parameters=[OpenApiParameter("patient", OpenApiTypes.UUID)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        offers = ServiceOffer.objects.select_related("patient").filter(
            patient__in=visible_patients(self.request.membership)
        )
        if self.request.query_params.get("patient"):
            patient_id = _uuid(self.request.query_params["patient"], "patient")
            offers = offers.filter(patient__public_id=patient_id)
        return offers

    @extend_schema(request=OfferCreateSerializer, responses={201: OfferSerializer})
    def create(self, request, *args, **kwargs):
        data = OfferCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = patient_for(request, values.pop("patient"))
        offer = services.offer_record(patient=patient, actor=request.user, **values)
        return Response(self.get_serializer(offer).data, status=status.HTTP_201_CREATED)
