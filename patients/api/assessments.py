"""Assessments by API: templates (the shipped library and the pharmacy's own, each change a
new version), completed responses (never changed), the adult immunization schedule and the
vaccines a patient is due for."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from medsync.api.base import TenantAPIMixin, TenantAPIView
from medsync.api.fields import date_param
from medsync.roles import Perm
from medsync.services import audit_record
from patients import assessment_services, services
from patients.api.records import READ_WRITE, AuditedRecordViewSet
from patients.api.serializers import PublicIdField
from patients.clinical_selectors import (
    has_own_immunization_schedule,
    schedule_document,
    vaccines_due,
)
from patients.models import (
    AssessmentResponse,
    AssessmentTemplate,
    Patient,
    ResponseContext,
)
from patients.visibility import limit_to_visible_patients


def _django_to_drf(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class AssessmentTemplateSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    version = serializers.IntegerField(
        source="current_version.number", read_only=True, default=None
    )
    definition = serializers.JSONField(
        required=False,
        help_text="questions (id, kind yes_no|choice|number|date|text, text, required, choices, "
        "show_if, score, min, max), flags (label, when), bands (at_least, label).",
    )

    class Meta:
        model = AssessmentTemplate
        fields = [
            "id",
            "key",
            "name",
            "description",
            "shipped",
            "attach_to_prep",
            "prep_order",
            "active",
            "version",
            "definition",
            "updated_at",
        ]
        read_only_fields = ["key", "shipped", "updated_at"]
        extra_kwargs = {"name": {"required": False}, "prep_order": {"max_value": 1000}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["definition"] = (
            instance.current_version.definition if instance.current_version else None
        )
        return data

    def _save(self, template, data):
        try:
            return assessment_services.assessment_template_save(
                template=template, actor=self.context["request"].user, **data
            )
        except DjangoValidationError as exc:
            raise _django_to_drf(exc) from None

    def create(self, validated_data):
        return self._save(None, validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class AssessmentTemplateViewSet(
    TenantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The organization's assessments: the shipped library (read-only questions; copy one to
    change it) and its own. A changed definition is a new version; responses keep theirs.
    Retire one with `active: false`."""

    serializer_class = AssessmentTemplateSerializer
    required_permission = READ_WRITE | {"copy": Perm.EDIT_PATIENTS}
    queryset = AssessmentTemplate.objects.none()
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return AssessmentTemplate.objects.select_related("current_version").order_by(
            "prep_order", "name", "id"
        )

    def list(self, request, *args, **kwargs):
        assessment_services.assessment_library_install(actor=request.user)
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=AssessmentTemplateSerializer)
    @action(detail=True, methods=["post"])
    def copy(self, request, id=None):
        """The pharmacy's own editable copy of this assessment."""
        template = self.get_object()
        copy = assessment_services.assessment_template_copy(
            template=template, actor=request.user, name=f"{template.name} (our copy)"[:120]
        )
        return Response(self.get_serializer(copy).data, status=status.HTTP_201_CREATED)


class AssessmentResponseSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PublicIdField(queryset=Patient.objects, patient_field="")
    template = PublicIdField(
        queryset=AssessmentTemplate.objects,
        source="version.template",
        help_text="The assessment (its current version is taken).",
    )
    template_key = serializers.CharField(source="version.template.key", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    answers = serializers.DictField(help_text="Question id -> answer.")

    class Meta:
        model = AssessmentResponse
        fields = [
            "id",
            "patient",
            "template",
            "template_key",
            "version",
            "answers",
            "score",
            "band",
            "flags",
            "context",
            "completed_at",
        ]
        read_only_fields = ["score", "band", "flags", "context", "completed_at"]

    def create(self, validated_data):
        template = validated_data["version"]["template"]
        if not template.active:
            raise ValidationError({"template": ["This assessment is retired."]})
        try:
            return assessment_services.assessment_response_record(
                patient=validated_data["patient"],
                template=template,
                answers=validated_data["answers"],
                actor=self.context["request"].user,
                context=ResponseContext.API,
            )
        except DjangoValidationError as exc:
            raise _django_to_drf(exc) from None


class AssessmentResponseFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    template = django_filters.UUIDFilter(field_name="version__template__public_id")

    class Meta:
        model = AssessmentResponse
        fields = ["patient", "template"]


class AssessmentResponseViewSet(AuditedRecordViewSet):
    """Completed assessments. A response is never changed: it keeps the version it was taken
    with, its answers, score and flags (each with the answer that raised it)."""

    serializer_class = AssessmentResponseSerializer
    filterset_class = AssessmentResponseFilter
    patient_field = "patient"
    queryset = AssessmentResponse.objects.none()
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return AssessmentResponse.objects.select_related("patient", "version__template").order_by(
            "-completed_at", "-id"
        )

    def _patient_of(self, obj):
        return obj.patient


class ScheduleSerializer(serializers.Serializer):
    document = serializers.JSONField(
        help_text="See patients/data/adult_immunization_schedule.json."
    )
    shipped = serializers.BooleanField(read_only=True)


class ImmunizationScheduleView(TenantAPIView):
    """The adult immunization schedule the screening uses: the shipped one until the pharmacy
    saves its own (PUT)."""

    required_permission = {"get": Perm.VIEW_PATIENTS, "put": Perm.EDIT_PATIENTS}

    @extend_schema(responses=ScheduleSerializer)
    def get(self, request):
        shipped = not has_own_immunization_schedule()
        return Response({"document": schedule_document(), "shipped": shipped})

    @extend_schema(request=ScheduleSerializer, responses=ScheduleSerializer)
    def put(self, request):
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            schedule = assessment_services.immunization_schedule_save(
                document=serializer.validated_data["document"], actor=request.user
            )
        except DjangoValidationError as exc:
            raise _django_to_drf(exc) from None
        return Response({"document": schedule.document, "shipped": False})


class DueVaccineSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    dose = serializers.IntegerField()
    reason = serializers.CharField()


class VaccinesDueView(TenantAPIView):
    """The vaccines a patient is due for on a day (`?on=YYYY-MM-DD`, default today)."""

    required_permission = Perm.VIEW_PATIENTS

    @extend_schema(responses=DueVaccineSerializer(many=True))
    def get(self, request, id):
        visible = limit_to_visible_patients(Patient.objects.all(), request.membership, "")
        patient = get_object_or_404(visible, public_id=id)
        on = date_param(request, "on", timezone.localdate())
        due = vaccines_due(patient, on)
        services.patient_viewed(patient=patient, actor=request.user, via="api")
        audit_record(
            action="patients.vaccines_due.screened",
            actor=request.user,
            target=patient,
            metadata={"on": on.isoformat(), "due": [d.key for d in due]},
        )
        return Response(DueVaccineSerializer(due, many=True).data)
