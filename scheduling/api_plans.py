"""The sync engine's planning API: a patient's anchor options and a plan preview (writes nothing).

Everything is looked up inside the caller's organization: another organization's patient or
prescription is a 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from medsync.api.base import TenantAPIView
from medsync.api.fields import BoundedDateField
from medsync.roles import Perm
from patients.models import Patient, PrescriptionStatus, SyncDecision
from patients.services import patient_viewed
from scheduling import cycle_rows, selectors
from scheduling.api import WarningSerializer
from scheduling.models import CYCLE_LENGTHS


class SyncPlanRequestSerializer(serializers.Serializer):
    anchor_date = BoundedDateField()  # 9999-12-31 overflowed the plan's date arithmetic (a 500)
    cycle_days = serializers.ChoiceField(choices=CYCLE_LENGTHS)
    prescriptions = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)


PLAN_ITEM = inline_serializer(
    "SyncPlanItem",
    {
        "prescription": serializers.UUIDField(),
        "rx_number": serializers.CharField(),
        "drug": serializers.CharField(),
        "fill_date": serializers.DateField(),
        # The first day this fill's supply is used: the fill date, or later when it is handed
        # out before the supply on hand runs out (DOMAIN 2: supply carries forward).
        "supply_start": serializers.DateField(),
        "days_supply": serializers.IntegerField(),
        "quantity": serializers.DecimalField(max_digits=10, decimal_places=3),
        "kind": serializers.ChoiceField(choices=["short", "full", "not_synced"]),
        "scc_codes": serializers.ListField(child=serializers.IntegerField()),
        "patient_pay": serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True),
        "warnings": WarningSerializer(many=True),
        "fills": serializers.ListField(child=serializers.DictField()),
    },
    many=True,
)
SYNC_PLAN_RESPONSE = inline_serializer(
    "SyncPlan",
    {
        "anchor_date": serializers.DateField(),
        "next_anchor_date": serializers.DateField(),
        "cycle_days": serializers.IntegerField(),
        "trip_dates": serializers.ListField(child=serializers.DateField()),
        "short_fill_cost": serializers.DecimalField(
            max_digits=8, decimal_places=2, allow_null=True
        ),
        "items": PLAN_ITEM,
    },
)
ANCHOR_OPTIONS_RESPONSE = inline_serializer(
    "AnchorOptions",
    {
        "today": serializers.DateField(),
        "cycle_days": serializers.IntegerField(),
        "options": inline_serializer(
            "AnchorOption",
            {
                "anchor_date": serializers.DateField(),
                "score": serializers.DecimalField(max_digits=8, decimal_places=2),
                "summary": serializers.CharField(),
                "extra_trips": serializers.IntegerField(),
                "short_fills": serializers.IntegerField(),
                "patient_cost": serializers.DecimalField(
                    max_digits=8, decimal_places=2, allow_null=True
                ),
                "matches_preference": serializers.BooleanField(allow_null=True),
                "pharmacy_load": serializers.IntegerField(),
                "household": serializers.BooleanField(),
                "reasons": serializers.ListField(child=serializers.CharField()),
                "cautions": serializers.ListField(child=serializers.CharField()),
            },
            many=True,
        ),
    },
)


def plan_as_json(preview: selectors.PlanPreview) -> dict:
    plan = preview.plan
    items = []
    for row in preview.rows:
        rx, rx_plan = row.prescription, row.plan
        rows = cycle_rows.plan_fill_rows(rx_plan, rx, plan.cycle_days)
        first = rows[0]
        items.append(
            {
                "prescription": str(rx.public_id),
                "rx_number": rx.rx_number,
                "drug": f"{rx.drug.name} {rx.drug.strength}",
                "fill_date": first["fill_date"],
                "supply_start": first.get("supply_start", first["fill_date"]),
                "days_supply": first["days_supply"],
                "quantity": first["quantity"],
                "kind": first["kind"],
                "scc_codes": first["scc_codes"],
                "patient_pay": first["patient_pay"],
                "warnings": cycle_rows.jsonable([w.as_dict() for w in rx_plan.warnings]),
                "fills": rows,
            }
        )
    cost = plan.short_fill_cost
    return {
        "anchor_date": plan.anchor_date.isoformat(),
        "next_anchor_date": plan.next_anchor_date.isoformat(),
        "cycle_days": plan.cycle_days,
        "trip_dates": [d.isoformat() for d in plan.trip_dates],
        "short_fill_cost": None if cost is None else str(cost),
        "items": items,
    }


def proposal_as_json(proposal, *, household: bool = False) -> dict:
    return {
        "anchor_date": proposal.anchor_date.isoformat(),
        "score": str(proposal.score),
        "summary": proposal.summary,
        "extra_trips": proposal.extra_trips,
        "short_fills": proposal.short_fills,
        "patient_cost": None if proposal.patient_cost is None else str(proposal.patient_cost),
        "matches_preference": proposal.matches_preference,
        "pharmacy_load": proposal.pharmacy_load,
        "household": household,
        "reasons": list(proposal.reasons),
        "cautions": list(proposal.cautions),
    }


# --- Views --------------------------------------------------------------------------------------


def _patient_for(request, patient_id) -> Patient:
    patient = selectors.patient_by_public_id(patient_id, membership=request.membership)
    patient_viewed(patient=patient, actor=request.user, via="api.sync")
    return patient


def _default_synced(patient: Patient):
    return [
        rx
        for rx in selectors.medication_list(patient)
        if rx.sync_decision == SyncDecision.SYNCED and rx.status == PrescriptionStatus.ACTIVE
    ]


class AnchorOptionsView(TenantAPIView):
    """The anchor optimizer's best dates for a patient, each with its reasons and cautions.

    Query: ?cycle_days= (default 30), ?prescriptions=<id> (repeat; default: the prescriptions
    reconciliation marked synced), ?preferred_weekday=0-6 or ?preferred_day_of_month=1-31,
    ?limit= (default 5)."""

    required_permission = Perm.MANAGE_ENROLLMENT

    @extend_schema(
        parameters=[
            OpenApiParameter("cycle_days", int, enum=list(CYCLE_LENGTHS)),
            OpenApiParameter("prescriptions", OpenApiTypes.UUID, many=True),
            OpenApiParameter("preferred_weekday", int),
            OpenApiParameter("preferred_day_of_month", int),
            OpenApiParameter("limit", int),
        ],
        responses=ANCHOR_OPTIONS_RESPONSE,
    )
    def get(self, request, id):
        params = request.query_params
        patient = _patient_for(request, id)
        chosen = params.getlist("prescriptions")
        prescriptions = (
            selectors.chosen_prescriptions(patient, chosen) if chosen else _default_synced(patient)
        )
        if not prescriptions:
            raise ValidationError(
                {"prescriptions": ["No prescription is marked synced: name the ones to sync."]}
            )
        ints = {}
        for name, low, high in (
            ("cycle_days", 1, 90),
            ("preferred_weekday", 0, 6),
            ("preferred_day_of_month", 1, 31),
            ("limit", 1, 20),
        ):
            raw = params.get(name)
            if raw in (None, ""):
                continue
            try:
                ints[name] = int(raw)
            except ValueError:
                raise ValidationError({name: ["A whole number."]}) from None
            if not low <= ints[name] <= high:
                raise ValidationError({name: [f"Between {low} and {high}."]})
        options = selectors.anchor_options(
            patient=patient,
            prescriptions=prescriptions,
            cycle_days=ints.get("cycle_days", 30),
            preferred_weekday=ints.get("preferred_weekday"),
            preferred_day_of_month=ints.get("preferred_day_of_month"),
            limit=ints.get("limit", 5),
        )
        proposals = [proposal_as_json(p) for p in options.proposals]
        if options.household_proposal is not None:
            proposals.insert(0, proposal_as_json(options.household_proposal, household=True))
        return Response(
            {
                "today": options.today.isoformat(),
                "cycle_days": ints.get("cycle_days", 30),
                "options": proposals,
            }
        )


class SyncPlanView(TenantAPIView):
    """The alignment plan for an anchor: each fill's date, quantity, days, kind, SCC codes and
    patient pay. Writes nothing."""

    required_permission = Perm.MANAGE_ENROLLMENT

    @extend_schema(request=SyncPlanRequestSerializer, responses=SYNC_PLAN_RESPONSE)
    def post(self, request, id):
        patient = _patient_for(request, id)
        data = SyncPlanRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prescriptions = selectors.chosen_prescriptions(
            patient, data.validated_data["prescriptions"]
        )
        preview = selectors.plan_preview(
            patient=patient,
            prescriptions=prescriptions,
            anchor_date=data.validated_data["anchor_date"],
            cycle_days=data.validated_data["cycle_days"],
        )
        return Response(plan_as_json(preview))
