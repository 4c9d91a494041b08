"""From the database to the pure engines and back: builds RxInput rows for
scheduling.alignment / scheduling.anchor and reads their answers.

Loads in a fixed number of queries per call whatever the number of patients
(prescriptions with drug and coverage, one aggregate over fills, one read of
plan rules), so the sweeps, the wizard and the API share it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum

from billing.proration import (
    CostSharing,
    PlanKind,
    PlanRules,
    default_plan_rules,
)
from billing.selectors import drug_traits, plan_rules_for_many
from patients.models import (
    BenefitPhase,
    Coverage,
    Fill,
    Prescription,
    PrescriptionStatus,
    PriceListEntry,
    SyncDecision,
)
from patients.supply import SupplyFill, injections_per_day, insulin_containers, next_due_date
from scheduling.alignment import SCC_SHORT_FILL, RxInput


@dataclass(frozen=True)
class FillSummary:
    """What the fill history says about one prescription."""

    supply_end: dt.date | None  # the day after the last supply runs out (the next due date)
    last_fill_date: dt.date | None
    last_days_supply: int | None
    last_fill_short: bool
    dispensed_quantity: Decimal
    fill_count: int
    short_fills_this_year: int


EMPTY_HISTORY = FillSummary(None, None, None, False, Decimal("0"), 0, 0)


def fill_summaries(prescription_ids: Iterable[int], *, year: int) -> dict[int, FillSummary]:
    """One aggregate query, then one for the fills of each Rx, walked in order with supply
    carried forward (patients.supply: the next due date is never last fill + days supply)."""
    ids = list(prescription_ids)
    if not ids:
        return {}
    kept = Fill.objects.filter(prescription_id__in=ids, returned_to_stock_at__isnull=True)
    totals = {
        row["prescription_id"]: row
        for row in kept.values("prescription_id").annotate(
            dispensed=Sum("quantity"),
            count=Count("id"),
            short_this_year=Count(
                "id", filter=Q(scc_codes__contains=[SCC_SHORT_FILL], fill_date__year=year)
            ),
            last_date=Max("fill_date"),
        )
    }
    history: dict[int, list[dict]] = defaultdict(list)
    for row in kept.order_by("prescription_id", "fill_date", "id").values(
        "prescription_id", "fill_date", "supply_start", "days_supply", "scc_codes"
    ):
        history[row["prescription_id"]].append(row)
    summaries = {}
    for rx_id, total in totals.items():
        rows = history[rx_id]
        latest = rows[-1]
        summaries[rx_id] = FillSummary(
            supply_end=next_due_date(
                SupplyFill(r["fill_date"], r["days_supply"], r["supply_start"]) for r in rows
            ),
            last_fill_date=latest["fill_date"],
            last_days_supply=latest["days_supply"],
            last_fill_short=SCC_SHORT_FILL in (latest["scc_codes"] or []),
            dispensed_quantity=total["dispensed"] or Decimal("0"),
            fill_count=total["count"],
            short_fills_this_year=total["short_this_year"],
        )
    return summaries


def plan_rules_by_coverage(prescriptions: Iterable[Prescription]) -> dict[int, PlanRules]:
    """billing's rules for every coverage these prescriptions bill to (one query)."""
    coverages = {rx.coverage_id: rx.coverage for rx in prescriptions if rx.coverage_id}
    return plan_rules_for_many(coverages.values())


def rules_for(rx: Prescription, rules: dict[int, PlanRules], *, pharmacy_state: str) -> PlanRules:
    if rx.coverage_id is None:
        return default_plan_rules(state=pharmacy_state, plan_kind=PlanKind.CASH)
    return rules[rx.coverage_id]


def cost_sharing_of(coverage: Coverage | None) -> CostSharing:
    if coverage is None or coverage.plan_type == "cash":
        return CostSharing()
    if coverage.benefit_phase == BenefitPhase.DEDUCTIBLE:
        return CostSharing(coinsurance_percent=Decimal("100"))  # the patient pays the claim
    if coverage.benefit_phase == BenefitPhase.CATASTROPHIC:
        return CostSharing(copay=Decimal("0"))
    if coverage.coinsurance_percent is not None:
        return CostSharing(
            coinsurance_percent=coverage.coinsurance_percent,
            coinsurance_minimum=coverage.coinsurance_minimum,
            coinsurance_maximum=coverage.coinsurance_maximum,
        )
    return CostSharing(copay=coverage.copay_amount)


def unit_price_of(rx: Prescription, rules: PlanRules) -> tuple[Decimal | None, Decimal]:
    """(ingredient cost per unit, dispensing fee) of this Rx's claim, from the pharmacy's price
    list (annotated by prescriptions_for_planning): an insured claim is the acquisition cost
    plus the plan's dispensing fee; a cash sale is the usual-and-customary price."""
    acquisition = getattr(rx, "price_acquisition", None)
    usual = getattr(rx, "price_usual", None)
    coverage = rx.coverage
    if coverage is None or coverage.plan_type == "cash":
        return usual, Decimal("0")
    return acquisition, rules.dispensing_fee


def planning_notes(rx: Prescription) -> list[tuple[str, str]]:
    """What the plan must say about this Rx's inputs: (code, message)."""
    notes = []
    if getattr(rx, "coverage_assumed", False):
        notes.append(
            (
                "coverage_assumed",
                f"No coverage on the prescription: priced on the patient's primary coverage "
                f"({rx.coverage}). Link it on the prescription if that is wrong.",
            )
        )
    if getattr(rx, "price_acquisition", None) is None:
        notes.append(
            (
                "price_unknown",
                f"Price unknown: NDC {rx.drug.ndc} is not on {rx.pharmacy.name}'s price list.",
            )
        )
    return notes


def is_syncable(rx: Prescription) -> bool:
    return rx.status == PrescriptionStatus.ACTIVE and rx.sync_decision == SyncDecision.SYNCED


def rx_input(
    rx: Prescription,
    *,
    history: FillSummary,
    today: dt.date,
    rules: PlanRules,
    synced: bool,
    pharmacy_state: str = "",
) -> RxInput:
    """One prescription as the alignment engine sees it."""
    drug = rx.drug
    # A new prescription whose original fill has not happened yet has one more fill.
    never_filled = history.fill_count == 0 and rx.refills_remaining == rx.refills_authorized
    fills_remaining = rx.refills_remaining + (1 if never_filled else 0)
    quantity_remaining = rx.quantity_per_fill * fills_remaining
    if rx.quantity_remaining is not None:
        # Refills counted in quantity (DOMAIN 2): what is left of the total once we have
        # filled it (a short fill uses one refill but only part of its quantity).
        quantity_remaining = min(rx.quantity_remaining, quantity_remaining)
    next_due = history.supply_end or today
    if next_due < today:
        next_due = today  # out of medication: it is due now
    containers = insulin_containers(
        dosage_form=drug.dosage_form,
        strength=drug.strength,
        package_size=drug.package_size,
        package_unit=drug.package_unit,
        in_use_days=drug.beyond_use_days,
    )
    unit_cost, dispensing_fee = unit_price_of(rx, rules)
    priming = Decimal("0")
    if containers is not None:
        priming = containers.priming_units * injections_per_day(rx.sig_text)
    return RxInput(
        rx_id=rx.pk,
        next_due_date=next_due,
        daily_dose=rx.daily_dose,
        package_size=drug.package_size if drug.unit_of_use else Decimal("1"),
        fills_remaining=fills_remaining,
        quantity_remaining=quantity_remaining,
        expiration_date=rx.expiration_date,
        unit_of_use=drug.unit_of_use,
        synced=synced,
        beyond_use_days=drug.beyond_use_days,
        last_fill_date=history.last_fill_date,
        last_days_supply=history.last_days_supply,
        last_fill_short=history.last_fill_short,
        short_fills_this_year=history.short_fills_this_year,
        usual_days_supply=rx.days_supply,
        containers_per_package=containers.count if containers else 1,
        priming_per_day=priming,
        written_quantity=rx.quantity_per_fill,
        refill_consolidation=rules.consolidation_allowed(pharmacy_state),
        plan=rules,
        cost_sharing=cost_sharing_of(rx.coverage),
        unit_cost=unit_cost,
        dispensing_fee=dispensing_fee,
        drug=drug_traits(drug),
        label=f"{drug.name} {drug.strength}",
    )


def prescriptions_for_planning(patient_ids: Sequence[int], *, today: dt.date | None = None):
    """Active prescriptions of these patients, with what planning reads, in one query: the
    pharmacy's price of the drug and (given `today`) the id of the patient's primary coverage
    active that day, for a prescription that names none."""
    prices = PriceListEntry.objects.filter(
        pharmacy_id=OuterRef("pharmacy_id"), ndc=OuterRef("drug__ndc")
    )
    queryset = (
        Prescription.objects.filter(
            patient_id__in=list(patient_ids), status=PrescriptionStatus.ACTIVE
        )
        .select_related("drug", "coverage", "pharmacy")
        .annotate(
            price_acquisition=Subquery(prices.values("acquisition_cost")[:1]),
            price_usual=Subquery(prices.values("usual_and_customary")[:1]),
        )
        .order_by("patient_id", "rx_number")
    )
    if today is not None:
        queryset = queryset.annotate(
            fallback_coverage_id=Subquery(
                active_coverages(today).filter(patient_id=OuterRef("patient_id")).values("id")[:1]
            )
        )
    return queryset


def active_coverages(day: dt.date):
    """Coverages in force on `day`, primary first."""
    return Coverage.objects.filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=day), effective_from__lte=day
    ).order_by("priority", "-effective_from", "id")


def apply_fallback_coverage(prescriptions: list[Prescription]) -> None:
    """A prescription naming no coverage is planned on the patient's primary coverage active
    on the planning day (DOMAIN 5: a claim goes to the plan the patient has), marked
    `coverage_assumed` so the plan says so. One query, only when some Rx needs it."""
    wanted = {
        rx.fallback_coverage_id
        for rx in prescriptions
        if rx.coverage_id is None and getattr(rx, "fallback_coverage_id", None)
    }
    if not wanted:
        return
    coverages = Coverage.objects.in_bulk(wanted)
    for rx in prescriptions:
        if rx.coverage_id is None and getattr(rx, "fallback_coverage_id", None) in coverages:
            rx.coverage = coverages[rx.fallback_coverage_id]
            rx.coverage_assumed = True


def assume_primary_coverage(prescriptions: Iterable[Prescription], day: dt.date) -> None:
    """The same fallback for prescriptions loaded without the planning annotation (sweeps):
    each Rx naming no coverage takes its patient's primary coverage active on `day`. One query."""
    bare = [rx for rx in prescriptions if rx.coverage_id is None]
    if not bare:
        return
    primary: dict[int, Coverage] = {}
    for coverage in active_coverages(day).filter(patient_id__in={rx.patient_id for rx in bare}):
        primary.setdefault(coverage.patient_id, coverage)
    for rx in bare:
        if rx.patient_id in primary:
            rx.coverage = primary[rx.patient_id]
            rx.coverage_assumed = True


@dataclass
class PatientRxInputs:
    prescriptions: list[Prescription]
    inputs: list[RxInput]


def rx_inputs_for_patients(
    patient_ids: Sequence[int],
    *,
    today: dt.date,
    pharmacy_state: str,
    synced_ids: set[int] | None = None,
    only_rx_ids: set[int] | None = None,
) -> dict[int, PatientRxInputs]:
    """RxInputs per patient. `synced_ids` overrides which Rx are synced (the wizard's choice);
    by default the reconciliation decision (Prescription.sync_decision) says."""
    prescriptions = prescriptions_for_planning(patient_ids, today=today)
    if only_rx_ids is not None:
        prescriptions = prescriptions.filter(pk__in=only_rx_ids)
    prescriptions = list(prescriptions)
    apply_fallback_coverage(prescriptions)
    histories = fill_summaries([rx.pk for rx in prescriptions], year=today.year)
    rules_by_coverage = plan_rules_by_coverage(prescriptions)
    result: dict[int, PatientRxInputs] = defaultdict(lambda: PatientRxInputs([], []))
    for rx in prescriptions:
        synced = rx.pk in synced_ids if synced_ids is not None else is_syncable(rx)
        rules = rules_for(rx, rules_by_coverage, pharmacy_state=pharmacy_state)
        entry = result[rx.patient_id]
        entry.prescriptions.append(rx)
        entry.inputs.append(
            rx_input(
                rx,
                history=histories.get(rx.pk, EMPTY_HISTORY),
                today=today,
                rules=rules,
                synced=synced,
                pharmacy_state=pharmacy_state,
            )
        )
    return dict(result)
