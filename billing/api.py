"""The claims API: /api/v1/claims/ (list, detail, submit, reverse, rebill, ncpdp).

Everything is looked up inside the caller's organization and visible pharmacies: another
organization's claim is a 404. Writes go through billing.services; reads are audited.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing import selectors, services
from billing.claim_models import Claim, ClaimStatus, ClaimTransaction
from billing.rejects import describe
from medsync.api.base import TenantReadOnlyViewSet
from medsync.api.rows import RowShape
from medsync.roles import Perm
from medsync.services import AuditEntry, audit_record_many
from patients.services import patient_viewed


class RejectSerializer(serializers.Serializer):
    code = serializers.CharField()
    meaning = serializers.CharField()
    fix = serializers.CharField()


class ClaimSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    prescription = serializers.UUIDField(source="prescription.public_id", read_only=True)
    rx_number = serializers.CharField(source="prescription.rx_number", read_only=True)
    pharmacy = serializers.UUIDField(source="pharmacy.public_id", read_only=True)
    rejects = RejectSerializer(many=True, read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id", "transaction", "status", "coordination", "patient", "prescription",
            "rx_number", "pharmacy", "cycle_item_id", "payer_name", "bin", "pcn", "group",
            "date_of_service", "ndc", "quantity", "days_supply", "fill_number", "scc_codes",
            "prior_auth_number", "ingredient_cost_submitted", "usual_and_customary",
            "dispensing_fee_submitted", "gross_amount_due", "ingredient_cost_paid",
            "dispensing_fee_paid", "patient_pay", "plan_pay", "other_payer_amount_paid",
            "basis_of_reimbursement", "pay_explanation", "reject_codes", "rejects",
            "reject_messages", "dur_warnings", "submitted_at", "reversed_at", "reversal_reason",
        ]  # fmt: skip


class CorrectionSerializer(serializers.Serializer):
    scc_codes = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=99),
        required=False,
        max_length=3,
    )
    pa_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    quantity = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001"), required=False
    )
    days_supply = serializers.IntegerField(min_value=1, max_value=365, required=False)


class ReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


CLAIM_LABEL = Claim._meta.label_lower


def _rejects(row: dict) -> list[dict]:
    # RejectSerializer's output: its fields in its order.
    return [
        {k: describe(code)[k] for k in ("code", "meaning", "fix")} for code in row["reject_codes"]
    ]


# The list's rows (medsync.api.rows): ClaimSerializer's output without a model object per row;
# patient, prescription and pharmacy columns by subquery (fewer joins to plan).
CLAIM_ROWS = RowShape(
    ClaimSerializer,
    computed={"rejects": (("reject_codes",), _rejects)},
    apart=("patient", "prescription", "pharmacy"),
)


def _audit_rows(rows: list[dict], action: str, actor) -> None:
    """One event per claim shown, naming its patient, from the page's rows (one INSERT)."""
    entries = [
        AuditEntry(
            action,
            None,
            CLAIM_LABEL,
            str(row["public_id"]),
            {"patient": str(row["patient__public_id"])},
        )
        for row in rows
    ]
    if entries:
        audit_record_many(entries, actor=actor)


class ClaimViewSet(TenantReadOnlyViewSet):
    """Prescription claims. Filters: ?status=, ?reject_code=, ?patient=<id>, ?transaction=."""

    serializer_class = ClaimSerializer
    queryset = Claim.objects.none()
    required_permission = {
        "list": Perm.VIEW_FILL_QUEUE,
        "retrieve": Perm.VIEW_FILL_QUEUE,
        "ncpdp": Perm.VIEW_FILL_QUEUE,
        "submit": Perm.PROCESS_FILLS,
        "reverse": Perm.PROCESS_FILLS,
        "rebill": Perm.PROCESS_FILLS,
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[s.value for s in ClaimStatus]),
            OpenApiParameter("reject_code", str),
            OpenApiParameter("patient", OpenApiTypes.UUID),
            OpenApiParameter("transaction", str, enum=[t.value for t in ClaimTransaction]),
        ]
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(CLAIM_ROWS.values(self.get_queryset(), "public_id"))
        rows = list(page)
        _audit_rows(rows, "billing.claim.listed", request.user)
        return self.get_paginated_response(CLAIM_ROWS.many(rows))

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        params = self.request.query_params
        errors = {}
        status_filter = params.get("status", "")
        if status_filter and status_filter not in ClaimStatus.values:
            errors["status"] = [f"One of {', '.join(ClaimStatus.values)}."]
        transaction = params.get("transaction", "")
        if transaction and transaction not in ClaimTransaction.values:
            errors["transaction"] = [f"One of {', '.join(ClaimTransaction.values)}."]
        reject_code = params.get("reject_code", "").strip().upper()
        if reject_code and (len(reject_code) > 3 or not reject_code.isalnum()):
            errors["reject_code"] = ["An NCPDP reject code (1 to 3 letters or digits)."]
        patient = params.get("patient", "")
        if patient:
            try:
                patient = uuid.UUID(patient)
            except ValueError:
                errors["patient"] = ["A patient id (UUID)."]
        if errors:
            raise ValidationError(errors)
        return selectors.claim_list(
            membership=self.request.membership,
            status=status_filter,
            reject_code=reject_code,
            patient_public_id=patient or None,
            transaction=transaction,
        )

    def retrieve(self, request, *args, **kwargs):
        claim = self.get_object()
        patient_viewed(patient=claim.patient, actor=request.user, via="api.claim")
        return Response(self.get_serializer(claim).data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def ncpdp(self, request, *args, **kwargs):
        """The D.0 request and response of the claim, keyed by NCPDP field id."""
        claim = self.get_object()
        patient_viewed(patient=claim.patient, actor=request.user, via="api.claim.ncpdp")
        return Response(
            {
                "id": str(claim.public_id),
                "request": claim.request_record,
                "response": claim.response_record,
            }
        )

    def _corrections(self, request) -> dict:
        data = CorrectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    @extend_schema(request=CorrectionSerializer, responses={201: ClaimSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, *args, **kwargs):
        """Resubmit a rejected bill (a new B1) with corrections: SCC, PA number, quantity."""
        claim = self.get_object()  # someone else's is a 404 before any 400
        new = services.claim_resubmit(claim, actor=request.user, **self._corrections(request))
        return Response(self.get_serializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReverseSerializer, responses={201: ClaimSerializer})
    @action(detail=True, methods=["post"])
    def reverse(self, request, *args, **kwargs):
        """Reverse a paid claim (B2)."""
        claim = self.get_object()
        data = ReverseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.claim_reverse(claim, actor=request.user, **data.validated_data)
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CorrectionSerializer, responses={201: ClaimSerializer})
    @action(detail=True, methods=["post"])
    def rebill(self, request, *args, **kwargs):
        """Rebill a paid claim (B3) with corrections."""
        claim = self.get_object()
        record = services.claim_rebill(claim, actor=request.user, **self._corrections(request))
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)
