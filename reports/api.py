"""Report endpoints: a patient's adherence (PDC per class) and the enrollment finder."""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from medsync.api.base import TenantAPIView
from medsync.api.fields import date_param
from medsync.roles import Perm
from patients.models import Patient
from patients.services import patient_viewed
from patients.visibility import limit_to_visible_patients
from reports import selectors


class PdcResultSerializer(serializers.Serializer):
    therapeutic_class = serializers.CharField()
    star_measure = serializers.BooleanField()
    index_date = serializers.DateField(allow_null=True)
    period_end = serializers.DateField()
    days_in_period = serializers.IntegerField()
    days_covered = serializers.IntegerField()
    pdc = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    adherent = serializers.BooleanField()
    measurable = serializers.BooleanField()
    reason_if_not = serializers.CharField()


class AdherenceSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    classes = PdcResultSerializer(many=True)


def _result_row(klass, result) -> dict:
    from reports.pdc import STAR_CLASSES

    return {
        "therapeutic_class": klass,
        "star_measure": klass in STAR_CLASSES,
        "index_date": result.index_date,
        "period_end": result.period_end,
        "days_in_period": result.days_in_period,
        "days_covered": result.days_covered,
        "pdc": result.pdc,
        "adherent": result.adherent,
        "measurable": result.measurable,
        "reason_if_not": result.reason_if_not,
    }


class PatientAdherenceView(TenantAPIView):
    """PDC per therapeutic class over the trailing window (default 180 days, PQA rules)."""

    required_permission = Perm.VIEW_PATIENTS

    @extend_schema(
        parameters=[
            OpenApiParameter("days", int, description="Window length, 30 to 730 (default 180)."),
            OpenApiParameter(
                "period_end", str, description="YYYY-MM-DD from 1900 to 2099, default today."
            ),
        ],
        responses=AdherenceSerializer,
    )
    def get(self, request, id):
        patient = (
            limit_to_visible_patients(Patient.objects.all(), request.membership)
            .filter(public_id=id)
            .first()
        )
        if patient is None:
            raise Http404
        errors = {}
        try:
            days = int(request.GET.get("days", selectors.ADHERENCE_WINDOW_DAYS))
            if not 30 <= days <= 730:
                raise ValueError
        except ValueError:
            errors["days"] = ["A whole number of days from 30 to 730."]
        period_end = timezone.localdate()
        try:
            period_end = date_param(request, "period_end", default=period_end)
        except serializers.ValidationError as exc:
            errors.update(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        start, end, results = selectors.adherence_for_patient(
            patient, period_end=period_end, days=days
        )
        patient_viewed(patient=patient, actor=request.user, via="api.adherence")
        body = {
            "patient": patient.public_id,
            "period_start": start,
            "period_end": end,
            "classes": [_result_row(k, r) for k, r in results.items()],
        }
        return Response(AdherenceSerializer(body).data)


class CandidateSerializer(serializers.Serializer):
    patient = serializers.UUIDField(source="patient.public_id")
    first_name = serializers.CharField(source="patient.first_name")
    last_name = serializers.CharField(source="patient.last_name")
    age = serializers.IntegerField()
    chronic_rx_with_refills = serializers.IntegerField(source="qualifying_rx")
    pickup_days_90d = serializers.IntegerField(source="pickup_days")
    qualifies = serializers.BooleanField()
    below_80_classes = serializers.ListField(child=serializers.CharField())
    star_pdc = serializers.SerializerMethodField()

    def get_star_pdc(self, candidate) -> list[dict]:
        return [_result_row(k, r) for k, r in candidate.star_pdc.items()]


class EligibilityView(TenantAPIView):
    """Patients not enrolled in sync, ranked (see README "Patient records")."""

    required_permission = Perm.VIEW_REPORTS

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "sort", str, enum=["priority", "pdc", "trips", "medications", "age", "name"]
            ),
            OpenApiParameter("qualifying_only", bool),
        ],
        responses=inline_serializer(
            "PaginatedCandidateList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": CandidateSerializer(many=True),
            },
        ),
    )
    def get(self, request):
        candidates = selectors.eligibility_candidates(
            today=timezone.localdate(), membership=request.membership
        )
        if request.GET.get("qualifying_only", "true").lower() != "false":
            candidates = [c for c in candidates if c.qualifies]
        ranked = selectors.rank_candidates(candidates, sort=request.GET.get("sort", "priority"))
        page = self.paginator.paginate_queryset(ranked, request, view=self)
        return self.paginator.get_paginated_response(CandidateSerializer(page, many=True).data)

    @property
    def paginator(self):
        from medsync.api.pagination import Pagination

        if not hasattr(self, "_paginator"):
            self._paginator = Pagination()
        return self._paginator
