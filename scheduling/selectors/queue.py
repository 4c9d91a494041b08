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
from scheduling.models import CycleItem, FlagReason, ItemState, SyncCycle
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


# The columns a queue row and its group head show (a page builds some 350 objects: loading
# the patients' and coverages' other columns was a third of its time).
_ROW_FIELDS = (
    *[
        "public_id",
        "organization_id",
        "cycle_id",
        "prescription_id",
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
        "version",
        "ndc_scanned",
    ],
    "cycle__public_id",
    "cycle__organization_id",
    "cycle__pharmacy_id",
    "cycle__patient_id",
    "cycle__anchor_date",
    "cycle__status",
    "cycle__patient__public_id",
    "cycle__patient__organization_id",
    "cycle__patient__first_name",
    "cycle__patient__last_name",
    "prescription__organization_id",
    "prescription__rx_number",
    "prescription__drug_id",
    "prescription__coverage_id",
    "prescription__drug__name",
    "prescription__drug__strength",
    "prescription__drug__ndc",
    *(f"prescription__coverage__{f}" for f in ("bin", "pcn", "group", "plan_type", "rules_state")),
    "state_changed_by__full_name",
    "state_changed_by__email",
)


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
        .select_related(
            "cycle__patient",
            "prescription__drug",
            "prescription__coverage",
            "state_changed_by",
        )
        .only(*_ROW_FIELDS)
        .order_by("fill_date", "id")
    )
    groups: dict[int, QueueGroup] = {key: None for key in groups_page.object_list}
    for item in rows:
        if groups[item.cycle_id] is None:
            groups[item.cycle_id] = QueueGroup(cycle=item.cycle)
        groups[item.cycle_id].items.append(item)
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
