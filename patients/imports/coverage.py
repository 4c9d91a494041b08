"""The coverage file: a patient's payer plans, matched by MRN + BIN + PCN + group + member id."""

from __future__ import annotations

from decimal import Decimal

from patients.imports import parsers
from patients.imports.base import STATES, Importer, ParsedRow
from patients.imports.results import RowRejected
from patients.models import BenefitPhase, Coverage, Patient, PlanType


def _cents(amount: Decimal | None) -> Decimal | None:
    return amount.quantize(Decimal("0.01")) if amount is not None else None


class CoverageImporter(Importer):
    """Coverage rows; the patient may be one the patients file of the same run creates."""

    kind = "coverage"
    model = Coverage
    compare_fields = [
        "payer_name",
        "plan_type",
        "copay_amount",
        "coinsurance_percent",
        "coinsurance_minimum",
        "coinsurance_maximum",
        "benefit_phase",
        "effective_from",
        "effective_to",
        "rules_state",
        "priority",
    ]

    def load(self):
        self.context.coverage_file_seen = True
        self.patients = self.context.patients_by_mrn()
        self.by_key = {
            (c.patient_id, c.bin, c.pcn, c.group, c.member_id, c.plan_type): c
            for c in Coverage.objects.all()
        }

    def existing(self, key):
        return self.by_key.get(key)

    def parse(self, line, row):
        mrn = parsers.text(row, "mrn", required=True, max_length=40)
        patient = self.patients.get(mrn)
        if patient is None:
            if mrn in self.context.pending_mrns:
                patient = Patient(mrn=mrn, state="")  # created by the patients file of this run
            else:
                raise RowRejected(f"mrn {mrn} matches no patient.")
        plan_type = parsers.choice(row, "plan_type", PlanType, "")
        if not plan_type:
            raise RowRejected("plan_type is empty.")
        bin_ = parsers.bin_number(row, "bin", required=plan_type != PlanType.CASH)
        copay = parsers.decimal(row, "copay_amount", required=False, minimum=Decimal("0"))
        coinsurance = parsers.decimal(
            row, "coinsurance_percent", required=False, minimum=Decimal("0")
        )
        if plan_type != PlanType.CASH and (copay is None) == (coinsurance is None):
            raise RowRejected("give exactly one of copay_amount or coinsurance_percent.")
        if coinsurance is not None and coinsurance > 100:
            raise RowRejected(f"coinsurance_percent {coinsurance} is over 100.")
        minimum = parsers.decimal(row, "coinsurance_minimum", required=False, minimum=Decimal("0"))
        maximum = parsers.decimal(row, "coinsurance_maximum", required=False, minimum=Decimal("0"))
        if minimum is not None and maximum is not None and maximum < minimum:
            raise RowRejected(f"coinsurance_maximum {maximum} is below coinsurance_minimum.")
        start = parsers.date(row, "effective_from")
        end = parsers.date(row, "effective_to", required=False)
        if end and end < start:
            raise RowRejected(f"effective_to {end} is before effective_from {start}.")
        key = (
            patient.pk,
            bin_,
            parsers.text(row, "pcn", max_length=20),
            parsers.text(row, "group", max_length=30),
            parsers.text(row, "member_id", max_length=40),
            plan_type,
        )
        values = {
            "payer_name": parsers.text(row, "payer_name", required=True),
            "plan_type": plan_type,
            "copay_amount": copay.quantize(Decimal("0.01")) if copay is not None else None,
            "coinsurance_percent": coinsurance.quantize(Decimal("0.01"))
            if coinsurance is not None
            else None,
            "coinsurance_minimum": _cents(minimum),
            "coinsurance_maximum": _cents(maximum),
            "benefit_phase": parsers.choice(
                row, "benefit_phase", BenefitPhase, BenefitPhase.INITIAL
            ),
            "effective_from": start,
            "effective_to": end,
            "rules_state": parsers.state(
                row, "rules_state", states=STATES, default=patient.state or ""
            )
            or self._fallback_state(),
            "priority": parsers.integer(row, "priority", required=False, positive=True, default=1),
        }
        return ParsedRow(key, values)

    def _fallback_state(self) -> str:
        """The pharmacy's state, when neither the row nor the patient gives one."""
        pharmacy = self.context.only_pharmacy or next(iter(self.context.pharmacies.values()), None)
        if pharmacy is None:
            raise RowRejected("rules_state is empty and neither patient nor pharmacy has a state.")
        return pharmacy.state

    def build(self, key, values):
        patient_id, bin_, pcn, group, member_id, _ = key
        return Coverage(
            organization=self.context.organization,
            patient_id=patient_id,
            bin=bin_,
            pcn=pcn,
            group=group,
            member_id=member_id,
            **values,
        )

    def patient_id_of(self, instance):
        return instance.patient_id
