"""The operations reports in the API, under /api/v1/reports/: the same selectors as the
pages, so each endpoint gives the same figures as its page (tests compare them).

?pharmacy=<public id> narrows to one pharmacy the member may see (another is a 404);
without it the figures are rolled up across every pharmacy the member may see."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from medsync.api.base import TenantAPIView
from medsync.api.fields import date_param
from medsync.roles import Perm
from medsync.services import AuditEntry, audit_record_many
from patients.services import PATIENT_VIEWED
from reports import dashboard_today, operations, opportunities
from reports.program import money_report, program_report, services_delivered
from reports.scope import MAX_RANGE_DAYS, ReportScope, ScopeError, month_of, report_scope

PHARMACY = OpenApiParameter(
    "pharmacy", str, description="A pharmacy's public id (default: all you may see)."
)
RANGE = [
    OpenApiParameter("start", str, description="YYYY-MM-DD (default: 90 days before end)."),
    OpenApiParameter("end", str, description="YYYY-MM-DD (default: today)."),
]


def _dict(name: str, fields: dict, **kwargs):
    return inline_serializer(name, fields, **kwargs)


class ReportAPIView(TenantAPIView):
    required_permission = Perm.VIEW_REPORTS

    def scope(self, request) -> ReportScope:
        try:
            return report_scope(request.membership, request.query_params.get("pharmacy", ""))
        except ScopeError:
            raise Http404 from None

    def date_range(self, request, scope: ReportScope):
        end = date_param(request, "end", scope.today)
        start = date_param(request, "start", end - dt.timedelta(days=89))
        if start > end:
            raise serializers.ValidationError({"start": ["On or before the end."]})
        if (end - start).days > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"start": [f"At most {MAX_RANGE_DAYS} days."]})
        return start, end

    def viewed(self, request, patients, via: str) -> None:
        unique = {p.pk: p for p in patients}
        if unique:
            audit_record_many(
                (
                    AuditEntry(PATIENT_VIEWED, target=p, metadata={"via": via})
                    for p in unique.values()
                ),
                actor=request.user,
            )


class TodayView(ReportAPIView):
    """The dashboard's numbers (each equals the rows of its list) and the anchor calendar."""

    required_permission = Perm.VIEW_DASHBOARD

    @extend_schema(
        parameters=[PHARMACY, OpenApiParameter("month", str, description="YYYY-MM.")],
        responses=_dict(
            "TodayReport",
            {
                "today": serializers.DateField(),
                "counts": serializers.DictField(child=serializers.IntegerField()),
                "calendar": _dict(
                    "AnchorDay",
                    {
                        "date": serializers.DateField(),
                        "patients": serializers.IntegerField(),
                        "fills": serializers.IntegerField(),
                        "capacity": serializers.IntegerField(allow_null=True),
                        "closed": serializers.BooleanField(),
                    },
                    many=True,
                ),
            },
        ),
    )
    def get(self, request):
        scope = self.scope(request)
        month = month_of(request.query_params.get("month", ""), scope.today)
        weeks = dashboard_today.month_calendar(scope, month)
        return Response(
            {
                "today": scope.today,
                "counts": dashboard_today.today_counts(scope),
                "calendar": [
                    {
                        "date": d.day,
                        "patients": d.patients,
                        "fills": d.fills,
                        "capacity": d.capacity,
                        "closed": d.closed,
                    }
                    for week in weeks
                    for d in week
                    if d.in_month
                ],
            }
        )


class WorkloadView(ReportAPIView):
    @extend_schema(
        parameters=[PHARMACY],
        responses=_dict(
            "WorkloadDay",
            {
                "date": serializers.DateField(),
                "fills": serializers.IntegerField(),
                "verifications": serializers.IntegerField(),
                "prep_calls": serializers.IntegerField(),
                "pickups": serializers.IntegerField(),
                "technician_hours": serializers.DecimalField(max_digits=8, decimal_places=1),
                "pharmacist_hours": serializers.DecimalField(max_digits=8, decimal_places=1),
            },
            many=True,
        ),
    )
    def get(self, request):
        loads = operations.workload(self.scope(request))
        return Response(
            [
                {
                    "date": d.day,
                    "fills": d.fills,
                    "verifications": d.verifications,
                    "prep_calls": d.prep_calls,
                    "pickups": d.pickups,
                    "technician_hours": str(d.tech_hours),
                    "pharmacist_hours": str(d.pharmacist_hours),
                }
                for d in loads
            ]
        )


class ForecastView(ReportAPIView):
    @extend_schema(
        parameters=[PHARMACY],
        responses=_dict(
            "NdcForecast",
            {
                "ndc": serializers.CharField(),
                "drug": serializers.CharField(),
                "on_hand": serializers.CharField(allow_null=True),
                "short_on": serializers.DateField(allow_null=True),
                "days": serializers.ListField(child=serializers.DictField()),
                "orders": serializers.ListField(child=serializers.DictField()),
            },
            many=True,
        ),
    )
    def get(self, request):
        rows = operations.inventory_forecast(self.scope(request))
        return Response(
            [
                {
                    "ndc": f.ndc,
                    "drug": f.name,
                    "on_hand": None if f.on_hand is None else str(f.on_hand),
                    "short_on": f.short_on,
                    "days": [
                        {
                            "date": d.day,
                            "planned": str(d.planned),
                            "filled": str(d.filled),
                            "due": str(d.due),
                            "arriving": str(d.arriving),
                            "stock_after": str(d.stock_after),
                        }
                        for d in f.days
                    ],
                    "orders": [
                        {
                            "order_date": o.order_day,
                            "delivery_date": o.arrives,
                            "covers_through": o.covers_to,
                            "packages": o.packages,
                            "quantity": str(o.quantity),
                        }
                        for o in f.orders
                    ],
                }
                for f in rows
            ]
        )


class ProgramView(ReportAPIView):
    @extend_schema(
        parameters=[PHARMACY, *RANGE],
        responses=_dict(
            "ProgramReport",
            {
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "funnel": serializers.ListField(child=serializers.DictField()),
                "disenrollment_reasons": serializers.ListField(child=serializers.DictField()),
                "on_time_pickups": serializers.DictField(),
                "disenrollment_risk": serializers.ListField(child=serializers.DictField()),
                "clinical_services": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request):
        scope = self.scope(request)
        start, end = self.date_range(request, scope)
        report = program_report(scope, start, end)
        self.viewed(request, [r.enrollment.patient for r in report.risk], "api.reports.program")
        return Response(
            {
                "start": start,
                "end": end,
                "funnel": report.funnel,
                "disenrollment_reasons": report.reasons,
                "on_time_pickups": report.on_time,
                "disenrollment_risk": [
                    {
                        "patient": r.enrollment.patient.public_id,
                        "enrollment": r.enrollment.public_id,
                        "missed_pickups": r.missed,
                        "unreached_prep_calls": r.unreachable,
                        "falling_pdc_classes": r.falling_pdc,
                        "last_anchor": r.last_anchor,
                    }
                    for r in report.risk
                ],
                # The page's "Clinical services delivered" line: per kind, in the range.
                "clinical_services": services_delivered(scope, start, end),
            }
        )


class MoneyView(ReportAPIView):
    @extend_schema(
        parameters=[PHARMACY, *RANGE],
        responses=_dict(
            "MoneyReport",
            {
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "returned_to_stock": serializers.DictField(),
                "short_fills": serializers.DictField(),
                "months": serializers.ListField(child=serializers.DictField()),
                "source": serializers.CharField(),
            },
        ),
    )
    def get(self, request):
        scope = self.scope(request)
        start, end = self.date_range(request, scope)
        report = money_report(scope, start, end)
        return Response(
            {
                "start": start,
                "end": end,
                "returned_to_stock": report.returned,
                "short_fills": report.short_fills,
                "months": report.months,
                "source": report.source,
            }
        )


class OpportunitiesView(ReportAPIView):
    @extend_schema(
        parameters=[PHARMACY],
        responses=_dict(
            "Opportunities",
            {
                "ninety_day": serializers.ListField(child=serializers.DictField()),
                "inactive": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request):
        scope = self.scope(request)
        conversions = opportunities.ninety_day_candidates(scope)
        inactive = opportunities.inactive_enrollments(scope)
        self.viewed(
            request,
            [p.patient for p in conversions] + [i.enrollment.patient for i in inactive],
            "api.reports.opportunities",
        )
        return Response(
            {
                "ninety_day": [
                    {
                        "patient": p.patient.public_id,
                        "trips_saved_per_year": p.trips_saved,
                        "yearly_saving": str(p.yearly_saving),
                        "prescriptions": [
                            {
                                "prescription": c.prescription.public_id,
                                "pay_30_days": None if c.pay_30 is None else str(c.pay_30),
                                "pay_90_days": None if c.pay_90 is None else str(c.pay_90),
                            }
                            for c in p.conversions
                        ],
                    }
                    for p in conversions
                ],
                "inactive": [
                    {
                        "enrollment": i.enrollment.public_id,
                        "patient": i.enrollment.patient.public_id,
                        "last_pickup": i.last_pickup,
                        "inactive_months": i.months,
                    }
                    for i in inactive
                ],
            }
        )
