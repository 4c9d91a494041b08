"""Outcome report endpoints under /api/v1/reports/: adherence (the same figures as the
adherence page) and the PQA med sync measures (the same as the PQA page)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from medsync.api.base import TenantAPIView
from medsync.api.fields import BoundedDateField
from medsync.roles import Perm
from medsync.selectors import pharmacies_visible_to
from medsync.services import audit_record
from patients.models import TherapeuticClass
from reports.adherence import adherence_figures, adherence_trend, outcome_rows
from reports.models import OutcomeRefresh
from reports.pqa_inputs import pqa_for


class _Filters(serializers.Serializer):
    pharmacy = serializers.UUIDField(required=False)

    def validate_pharmacy(self, value):
        pharmacy = pharmacies_visible_to(self.context["membership"]).filter(public_id=value).first()
        if pharmacy is None:
            raise serializers.ValidationError("No pharmacy of yours has this id.")
        return pharmacy


class AdherenceFilters(_Filters):
    trend = serializers.ChoiceField(choices=TherapeuticClass.values, required=False)
    enrolled_from = BoundedDateField(required=False)
    enrolled_to = BoundedDateField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("enrolled_from"), attrs.get("enrolled_to")
        if start and end and start > end:
            raise serializers.ValidationError({"enrolled_to": "Must be on or after enrolled_from."})
        return attrs


class PqaFilters(_Filters):
    start = BoundedDateField(required=False)
    end = BoundedDateField(required=False)

    def validate(self, attrs):
        end = attrs.get("end") or timezone.localdate()
        start = attrs.get("start") or end - dt.timedelta(days=364)
        if start > end:
            raise serializers.ValidationError({"end": "Must be on or after start."})
        if (end - start).days > 3 * 366:
            raise serializers.ValidationError({"start": "A period of at most three years."})
        attrs["start"], attrs["end"] = start, end
        return attrs


class GroupSerializer(serializers.Serializer):
    measured = serializers.IntegerField()
    adherent = serializers.IntegerField()
    adherent_pct = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    mean_pdc = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    excluded = serializers.IntegerField()


class ClassFiguresSerializer(serializers.Serializer):
    therapeutic_class = serializers.CharField()
    star = serializers.BooleanField()
    before = GroupSerializer()
    since = GroupSerializer()
    not_enrolled = GroupSerializer()
    matched_not_enrolled_adherent_pct = serializers.DecimalField(
        source="matched_adherent_pct", max_digits=4, decimal_places=1, allow_null=True
    )
    change_points = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    paired_patients = serializers.IntegerField(source="paired")
    paired_before_adherent = serializers.IntegerField()
    paired_since_adherent = serializers.IntegerField()
    paired_mean_pdc_change_points = serializers.DecimalField(
        source="paired_mean_change", max_digits=5, decimal_places=1, allow_null=True
    )


class TrendSerializer(serializers.Serializer):
    month = serializers.DateField()
    before = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    since = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    not_enrolled = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)


class AdherenceReportSerializer(serializers.Serializer):
    as_of = serializers.DateField(allow_null=True)
    classes = ClassFiguresSerializer(many=True)
    trend_class = serializers.CharField()
    trend = TrendSerializer(many=True)


class AdherenceReportView(TenantAPIView):
    """PDC outcomes per class: 12 months before enrollment, since, not enrolled (matched)."""

    required_permission = Perm.VIEW_REPORTS

    @extend_schema(
        parameters=[
            OpenApiParameter("pharmacy", str, description="A pharmacy's id (default: all yours)."),
            OpenApiParameter("enrolled_from", str, description="YYYY-MM-DD, 1900 to 2099."),
            OpenApiParameter("trend", str, description="The class of the monthly trend."),
            OpenApiParameter("enrolled_to", str, description="YYYY-MM-DD, 1900 to 2099."),
        ],
        responses=AdherenceReportSerializer,
    )
    def get(self, request):
        filters = AdherenceFilters(
            data=request.query_params, context={"membership": request.membership}
        )
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        rows = outcome_rows(
            request.membership,
            pharmacy=data.get("pharmacy"),
            enrolled_from=data.get("enrolled_from"),
            enrolled_to=data.get("enrolled_to"),
        )
        figures = adherence_figures(rows)
        trend_class = data.get("trend", "statin")
        trend = adherence_trend(
            request.membership, therapeutic_class=trend_class, pharmacy=data.get("pharmacy")
        )
        latest = OutcomeRefresh.objects.filter(status="done").first()
        audit_record(action="reports.adherence.viewed", actor=request.user, metadata={"via": "api"})
        return Response(
            AdherenceReportSerializer(
                {
                    "as_of": latest.as_of if latest else None,
                    "classes": figures,
                    "trend_class": trend_class,
                    "trend": trend,
                }
            ).data
        )


class MeasureSerializer(serializers.Serializer):
    measure = serializers.CharField()
    label = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField()
    excluded = serializers.IntegerField()
    excluded_by_reason = serializers.DictField(child=serializers.IntegerField())
    rate_pct = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    pending = serializers.BooleanField()


class PqaReportSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    measures = MeasureSerializer(many=True)


class PqaReportView(TenantAPIView):
    """The four PQA med sync measures over a period (default: the 12 months to today)."""

    required_permission = Perm.VIEW_REPORTS

    @extend_schema(
        parameters=[
            OpenApiParameter("pharmacy", str, description="A pharmacy's id (default: all yours)."),
            OpenApiParameter("start", str, description="YYYY-MM-DD, 1900 to 2099."),
            OpenApiParameter("end", str, description="YYYY-MM-DD, 1900 to 2099 (default today)."),
        ],
        responses=PqaReportSerializer,
    )
    def get(self, request):
        filters = PqaFilters(data=request.query_params, context={"membership": request.membership})
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        report, _patients = pqa_for(
            request.membership, start=data["start"], end=data["end"], pharmacy=data.get("pharmacy")
        )
        audit_record(action="reports.pqa.viewed", actor=request.user, metadata={"via": "api"})
        measures = [
            {
                "measure": m.measure,
                "label": m.label,
                "period_start": m.period_start,
                "period_end": m.period_end,
                "numerator": len(m.numerator),
                "denominator": len(m.denominator),
                "excluded": len(m.excluded),
                "excluded_by_reason": dict(Counter(reason for _, reason in m.excluded)),
                "rate_pct": m.rate_percent,
                "pending": m.pending,
            }
            for m in report.measures
        ]
        body = {"period_start": data["start"], "period_end": data["end"], "measures": measures}
        return Response(PqaReportSerializer(body).data)
