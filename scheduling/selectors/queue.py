"""The fill queue as a technician works it: one row per patient and cycle with its fills,
ordered by anchor, filtered and paginated, in a fixed number of queries whatever its size
(tests assert it for 50 and 500 fills); and the cheap version token the page polls to learn
that a colleague changed something."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum

from billing.claim_models import Claim
from billing.selectors import latest_claims_for_items, plan_rules_for_many
from medsync.models import Membership
from medsync.selectors import limit_to_visible_pharmacies
from patients.models import Coverage, Patient
from scheduling.models import CycleItem, FillKind, FlagReason, ItemState, SyncCycle
from scheduling.selectors.cycles import item_by_public_id
from scheduling.states import CYCLE_OPEN, ITEM_IN_QUEUE

QUEUE_PAGE_SIZE = 10

# The queue's sections, as the state filter names them, and the item states each holds.
SECTIONS: dict[str, tuple[str, ...]] = {
    "to_fill": (ItemState.PLANNED, ItemState.BILLED),
    "flagged": (ItemState.FLAGGED,),
    "to_verify": (ItemState.FILLED,),
    "ready": (ItemState.READY,),
}
SECTION_LABELS = {
    "to_fill": "To start and fill",
    "flagged": "Flagged",
    "to_verify": "To verify",
    "ready": "Ready to hand over",
}
# Flags that are claim rejects (the "rejects" filter), before the claim itself is read.
REJECT_FLAGS = (FlagReason.REFILL_TOO_SOON, FlagReason.PLAN_LIMIT, FlagReason.CLAIM_REJECTED)


@dataclass
class QueueFilters:
    """What the technician narrowed the queue to (all optional)."""

    section: str = ""  # one of SECTIONS, or "" for everything
    anchor: dt.date | None = None
    attention: bool = False  # flagged or rejected fills only


@dataclass
class QueueGroup:
    """One patient's cycle in the queue with the fills of it the filters kept."""

    cycle: SyncCycle
    items: list[CycleItem] = field(default_factory=list)

    @property
    def patient(self):
        return self.cycle.patient

    @property
    def ready_items(self) -> list[CycleItem]:
        return [i for i in self.items if i.state == ItemState.READY]


@dataclass
class QueuePage:
    groups: Page
    counts: dict[str, int]
    filters: QueueFilters
    version: str  # the token fill_queue_version gives for the same queue

    @property
    def sections(self) -> list[tuple[str, str, int]]:
        """(filter key, label, fills in it) for each section, in the queue's order."""
        return [(key, SECTION_LABELS[key], self.counts[key]) for key in SECTIONS]

    @property
    def items(self) -> list[CycleItem]:
        return [item for group in self.groups.object_list for item in group.items]


def _in_queue(membership: Membership | None, today: dt.date) -> QuerySet[CycleItem]:
    items = CycleItem.objects.filter(
        Q(state=ItemState.PLANNED, queue_from__lte=today)
        | Q(state__in=[s for s in ITEM_IN_QUEUE if s != ItemState.PLANNED])
        | Q(state=ItemState.READY),
        cycle__status__in=CYCLE_OPEN,
    )
    return limit_to_visible_pharmacies(items, membership, "cycle__pharmacy")


def _filtered(items: QuerySet[CycleItem], filters: QueueFilters) -> QuerySet[CycleItem]:
    if filters.section in SECTIONS:
        items = items.filter(state__in=SECTIONS[filters.section])
    if filters.anchor is not None:
        items = items.filter(cycle__anchor_date=filters.anchor)
    if filters.attention:
        claims = Claim.objects.filter(cycle_item_id=OuterRef("pk"), coordination=1)
        rejected_unpaid = Exists(claims.filter(status="rejected")) & ~Exists(
            claims.filter(status="paid")
        )
        items = items.filter(
            Q(state=ItemState.FLAGGED)
            | Q(flag_reason__in=REJECT_FLAGS)
            | ~Q(warnings=[])
            | (Q(state=ItemState.PLANNED) & rejected_unpaid)
        )
    return items


# What billing.plan_rules_for_many reads of a coverage (a 79 row's "resubmit with SCC").
_COVERAGE_RULE_FIELDS = ("bin", "pcn", "group", "plan_type", "rules_state")
_STATE_LABELS = dict(ItemState.choices)
_KIND_LABELS = dict(FillKind.choices)
_FLAG_LABELS = dict(FlagReason.choices)


@dataclass(slots=True)
class QueueDrug:
    name: str
    strength: str


@dataclass(slots=True)
class QueueRx:
    rx_number: str
    drug: QueueDrug
    coverage_id: int | None
    coverage_values: dict

    @property
    def coverage(self) -> Coverage | None:
        if self.coverage_id is None:
            return None
        return Coverage(id=self.coverage_id, **self.coverage_values)


@dataclass(slots=True, eq=False)
class QueueRow:
    """One fill as a queue page shows it, read as values: the attributes (and display
    methods) of a CycleItem that scheduling.views.queue_rows renders, nothing else."""

    id: int
    public_id: object
    organization_id: int
    cycle_id: int
    fill_date: dt.date
    kind: str
    quantity: object
    days_supply: int
    scc_codes: list
    patient_pay: object
    warnings: list
    state: str
    flag_reason: str
    flag_note: str
    state_changed_by_id: int | None
    state_changed_by: str | None  # the member's name as shown
    version: int
    ndc_scanned: str
    prescription: QueueRx
    claim: object = None
    sync_codes_allowed: bool = False

    @property
    def pk(self) -> int:
        return self.id

    def get_state_display(self) -> str:
        return _STATE_LABELS.get(self.state, self.state)

    def get_kind_display(self) -> str:
        return _KIND_LABELS.get(self.kind, self.kind)

    def get_flag_reason_display(self) -> str:
        return _FLAG_LABELS.get(self.flag_reason, self.flag_reason)

    @classmethod
    def from_values(cls, v: dict) -> QueueRow:
        by = v["state_changed_by__full_name"] or v["state_changed_by__email"]
        coverage = {f: v[f"prescription__coverage__{f}"] for f in _COVERAGE_RULE_FIELDS}
        return cls(
            id=v["id"],
            public_id=v["public_id"],
            organization_id=v["organization_id"],
            cycle_id=v["cycle_id"],
            fill_date=v["fill_date"],
            kind=v["kind"],
            quantity=v["quantity"],
            days_supply=v["days_supply"],
            scc_codes=v["scc_codes"],
            patient_pay=v["patient_pay"],
            warnings=v["warnings"],
            state=v["state"],
            flag_reason=v["flag_reason"],
            flag_note=v["flag_note"],
            state_changed_by_id=v["state_changed_by_id"],
            state_changed_by=by if v["state_changed_by_id"] else None,
            version=v["version"],
            ndc_scanned=v["ndc_scanned"],
            prescription=QueueRx(
                rx_number=v["prescription__rx_number"],
                drug=QueueDrug(v["prescription__drug__name"], v["prescription__drug__strength"]),
                coverage_id=v["prescription__coverage_id"],
                coverage_values=coverage,
            ),
        )


def _partial(model, values: dict):
    """An instance with only these columns loaded (the rest deferred, as only() leaves them)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db("default", names, [values[name] for name in names])


def _group_cycle(v: dict) -> SyncCycle:
    """The group head's cycle and patient (the columns the head shows; the rest deferred)."""
    cycle = _partial(SyncCycle, {f: v[f"cycle__{f}"] for f in (*_CYCLE_FIELDS, "status")})
    cycle.patient = _partial(Patient, {f: v[f"cycle__patient__{f}"] for f in _PATIENT_FIELDS})
    return cycle


# The columns a queue page reads: its rows are built from these values (not model instances:
# a page of 50 fills built some 350 objects, most of its server time, bench_queue).
_ROW_VALUES = (
    "id",
    "public_id",
    "organization_id",
    "cycle_id",
    "fill_date",
    "kind",
    "quantity",
    "days_supply",
    "scc_codes",
    "patient_pay",
    "warnings",
    "state",
    "flag_reason",
    "flag_note",
    "state_changed_by_id",
    "state_changed_by__full_name",
    "state_changed_by__email",
    "version",
    "ndc_scanned",
    "prescription__rx_number",
    "prescription__drug__name",
    "prescription__drug__strength",
    "prescription__coverage_id",
    *(f"prescription__coverage__{f}" for f in _COVERAGE_RULE_FIELDS),
)
_CYCLE_FIELDS = ("id", "public_id", "organization_id", "pharmacy_id", "patient_id", "anchor_date")
_CYCLE_VALUES = (*(f"cycle__{f}" for f in _CYCLE_FIELDS), "cycle__status")
_PATIENT_FIELDS = ("id", "public_id", "organization_id", "first_name", "last_name")
_PATIENT_VALUES = tuple(f"cycle__patient__{f}" for f in _PATIENT_FIELDS)


def fill_queue_page(
    *,
    membership: Membership | None = None,
    today: dt.date,
    filters: QueueFilters | None = None,
    page: int | str = 1,
    per_page: int = QUEUE_PAGE_SIZE,
) -> QueuePage:
    """One page of the queue: the counts per section (one query), the patient-and-cycle groups
    in anchor order (one query for their keys, paginated without a count), and the fills of
    this page's groups with what each row shows (one query)."""
    filters = filters or QueueFilters()
    in_queue = _in_queue(membership, today)
    totals = in_queue.aggregate(
        **{name: Count("id", filter=Q(state__in=states)) for name, states in SECTIONS.items()},
        **_VERSION_TOTALS,
    )
    counts = {name: totals[name] for name in SECTIONS}
    items = _filtered(in_queue, filters)
    keys = list(
        items.order_by("cycle__anchor_date", "cycle__patient__last_name", "cycle_id")
        .values_list("cycle_id", flat=True)
        .distinct()
    )
    # distinct() keeps the ORDER BY columns in the select: dedupe in order here.
    keys = list(dict.fromkeys(keys))
    groups_page = Paginator(keys, per_page).get_page(page)
    rows = (
        items.filter(cycle_id__in=list(groups_page.object_list))
        .order_by("fill_date", "id")
        .values(*_ROW_VALUES, *_CYCLE_VALUES, *_PATIENT_VALUES)
    )
    groups: dict[int, QueueGroup] = {key: None for key in groups_page.object_list}
    for values in rows:
        cycle_id = values["cycle_id"]
        if groups[cycle_id] is None:
            groups[cycle_id] = QueueGroup(cycle=_group_cycle(values))
        groups[cycle_id].items.append(QueueRow.from_values(values))
    groups_page.object_list = [g for g in groups.values() if g is not None]
    attach_claims([item for group in groups_page.object_list for item in group.items])
    return QueuePage(
        groups=groups_page, counts=counts, filters=filters, version=_version_token(totals)
    )


def attach_claims(items: list[CycleItem]) -> list[CycleItem]:
    """Each fill's latest claim (`item.claim`, or None) in one query, and for fills rejected
    79 whether their plan takes sync codes (`item.sync_codes_allowed`), in one more."""
    if not items:
        return items
    claims = latest_claims_for_items(items[0].organization_id, [item.pk for item in items])
    for item in items:
        item.claim = claims.get(item.pk)
        item.sync_codes_allowed = False
    too_soon = [
        item
        for item in items
        if item.claim is not None
        and item.claim.status == "rejected"
        and "79" in item.claim.reject_codes
        and item.prescription.coverage_id
    ]
    if too_soon:
        rules = plan_rules_for_many({i.prescription.coverage for i in too_soon})
        for item in too_soon:
            item.sync_codes_allowed = rules[item.prescription.coverage_id].sync_codes_allowed
    return items


def queue_item(public_id, *, membership: Membership | None = None) -> CycleItem:
    """One fill as its queue row shows it (with its claim); another member's is NotFoundInTenant."""
    item = item_by_public_id(public_id, membership=membership)
    return attach_claims([item])[0]


def fill_queue_version(*, membership: Membership | None = None, today: dt.date) -> str:
    """A token that changes whenever a fill in the member's queue changes state (every change
    adds to its version) or one joins or leaves it: one aggregate query, no rows read out."""
    return _version_token(_in_queue(membership, today).aggregate(**_VERSION_TOTALS))


_VERSION_TOTALS = {"n": Count("id"), "versions": Sum("version"), "last": Max("id")}


def _version_token(totals: dict) -> str:
    return f"{totals['n']}.{totals['versions'] or 0}.{totals['last'] or 0}"
