"""The pharmacist's morning: today's and this week's numbers at the pharmacy in view, each
defined once as a filter, so a number and the list behind its link are the same rows.

Counts cost one query per kind of row (cycles, fills, tasks, conversations) plus two for
the return-to-stock deadlines (each payer's window comes from its plan rules)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from messaging.models import Conversation, Direction, Message
from messaging.selectors import limit_to_visible_conversations
from reports.projection import WITHDRAWN, planned_anchors, settings_by_pharmacy
from reports.scope import ReportScope
from scheduling import planning
from scheduling.dates import local_today
from scheduling.models import (
    CycleItem,
    CycleStatus,
    FlagReason,
    FollowUpTask,
    ItemState,
    SyncCycle,
    TaskStatus,
)
from scheduling.states import (
    CYCLE_OPEN,
    CYCLE_PAST_PICKUP,
    CYCLE_PREP_ANSWERABLE,
    ITEM_ON_SHELF,
)

RTS_HORIZON_DAYS = 3
REJECT_REASONS = (FlagReason.REFILL_TOO_SOON, FlagReason.PLAN_LIMIT, FlagReason.CLAIM_REJECTED)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    section: str
    kind: str  # cycle | item | task | conversation | rts
    work_url: str  # the page where the work is done


METRICS = (
    Metric("anchors_today", "Anchors today", "Pickups", "cycle", "fill-queue"),
    Metric("anchors_week", "Anchors in the next 7 days", "Pickups", "cycle", "fill-queue"),
    Metric("ready", "Ready, waiting for pickup", "Pickups", "cycle", "fill-queue"),
    Metric(
        "not_picked_up", "Pickup day passed, still on the shelf", "Pickups", "cycle", "sync-tasks"
    ),
    Metric("rts_soon", "Return-to-stock deadline within 3 days", "Pickups", "rts", "sync-tasks"),
    Metric("prep_due", "Prep calls due today", "Prep calls", "cycle", "sync-prep"),
    Metric("prep_overdue", "Prep calls overdue", "Prep calls", "cycle", "sync-prep"),
    Metric("renewals", "Renewals needed", "Prep calls", "cycle", "sync-tasks"),
    Metric("to_fill", "To fill and bill", "Fill queue", "item", "fill-queue"),
    Metric("to_verify", "Awaiting verification", "Fill queue", "item", "fill-queue"),
    Metric("flagged", "Flagged", "Fill queue", "item", "fill-queue"),
    Metric("rejects", "…of which claim rejects to work", "Fill queue", "item", "fill-queue"),
    Metric(
        "unread", "Conversations with unread texts", "Follow-up", "conversation", "messaging-inbox"
    ),
    Metric("follow_ups", "Follow-ups due", "Follow-up", "task", "sync-tasks"),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}


def _cycle_filters(today: dt.date) -> dict[str, Q]:
    week_end = today + dt.timedelta(days=6)
    prep_open = Q(prep_open=True, status__in=CYCLE_PREP_ANSWERABLE, anchor_date__gte=today)
    on_calendar = ~WITHDRAWN
    return {
        "anchors_today": Q(anchor_date=today) & on_calendar,
        "anchors_week": Q(anchor_date__gte=today, anchor_date__lte=week_end) & on_calendar,
        "ready": Q(status=CycleStatus.READY),
        "not_picked_up": Q(status__in=CYCLE_PAST_PICKUP)
        & Q(Exists(CycleItem.objects.filter(cycle=OuterRef("pk"), state__in=ITEM_ON_SHELF))),
        "prep_due": prep_open & Q(prep_due_on=today),
        "prep_overdue": prep_open & Q(prep_due_on__lt=today),
        "renewals": Q(needs_renewal=True, status__in=CYCLE_OPEN),
    }


def _item_filters(today: dt.date) -> dict[str, Q]:
    return {
        "to_fill": Q(state=ItemState.PLANNED, queue_from__lte=today) | Q(state=ItemState.BILLED),
        "to_verify": Q(state=ItemState.FILLED),
        "flagged": Q(state=ItemState.FLAGGED),
        "rejects": Q(state=ItemState.FLAGGED, flag_reason__in=REJECT_REASONS),
    }


def _cycles(scope: ReportScope) -> QuerySet[SyncCycle]:
    return scope.limit(SyncCycle.objects.all())


def _items(scope: ReportScope) -> QuerySet[CycleItem]:
    return scope.limit(CycleItem.objects.filter(cycle__status__in=CYCLE_OPEN), "cycle__pharmacy")


def _tasks(scope: ReportScope) -> QuerySet[FollowUpTask]:
    return scope.limit(
        FollowUpTask.objects.filter(_task_filter(scope.today, "")), "cycle__pharmacy"
    )


def _task_filter(today: dt.date, prefix: str) -> Q:
    return Q(**{f"{prefix}status": TaskStatus.OPEN, f"{prefix}due_on__lte": today})


def _conversations(scope: ReportScope) -> QuerySet[Conversation]:
    unread = Message.objects.filter(
        conversation=OuterRef("pk"), direction=Direction.INBOUND, read_at__isnull=True
    )
    conversations = limit_to_visible_conversations(
        Conversation.objects.filter(Exists(unread)), scope.membership
    )
    return conversations.filter(pharmacy__in=scope.in_view)


def rts_deadlines(scope: ReportScope) -> list[tuple[SyncCycle, dt.date]]:
    """Cycles with a fill on the shelf whose payer's return-to-stock deadline falls within
    3 days (the same reading as the pickup sweep: a missed or partly picked-up cycle, or a
    fill dated before an open cycle's anchor), soonest first. Two queries."""
    from django.db.models import F

    early = Q(cycle__status__in=CYCLE_OPEN, fill_date__lt=F("cycle__anchor_date"))
    items = list(
        _items_any(scope)
        .filter(Q(cycle__status__in=CYCLE_PAST_PICKUP) | early, state__in=ITEM_ON_SHELF)
        .select_related("cycle__patient", "cycle__pharmacy", "prescription__coverage")
    )
    rules = planning.plan_rules_by_coverage([i.prescription for i in items])
    horizon = scope.today + dt.timedelta(days=RTS_HORIZON_DAYS)
    soonest: dict[int, tuple[SyncCycle, dt.date]] = {}
    for item in items:
        pharmacy = item.cycle.pharmacy
        rx_rules = planning.rules_for(item.prescription, rules, pharmacy_state=pharmacy.state)
        billed = item.billed_at or item.filled_at
        start = local_today(pharmacy.time_zone, billed) if billed else item.fill_date
        deadline = start + dt.timedelta(days=rx_rules.return_to_stock_days)
        if deadline <= horizon:
            known = soonest.get(item.cycle_id)
            if known is None or deadline < known[1]:
                soonest[item.cycle_id] = (item.cycle, deadline)
    return sorted(soonest.values(), key=lambda pair: (pair[1], pair[0].pk))


def _items_any(scope: ReportScope) -> QuerySet[CycleItem]:
    return scope.limit(CycleItem.objects.all(), "cycle__pharmacy")


def today_counts(scope: ReportScope) -> dict[str, int]:
    """Every dashboard number (four queries, five when fills wait on the shelf)."""
    cycle_filters = _cycle_filters(scope.today)
    # Follow-ups counted through their cycles in the same query (distinct: the join to the
    # tasks repeats a cycle once per task).
    counts = _cycles(scope).aggregate(
        **{key: Count("pk", filter=q, distinct=True) for key, q in cycle_filters.items()},
        follow_ups=Count("tasks", filter=_task_filter(scope.today, "tasks__"), distinct=True),
    )
    counts.update(
        _items(scope).aggregate(
            **{key: Count("pk", filter=q) for key, q in _item_filters(scope.today).items()}
        )
    )
    counts["unread"] = _conversations(scope).count()
    counts["rts_soon"] = len(rts_deadlines(scope))
    return {m.key: counts[m.key] for m in METRICS}


def metric_rows(scope: ReportScope, key: str) -> list:
    """The rows behind one dashboard number, as dicts the list page and CSV show."""
    metric = METRIC_BY_KEY[key]
    if metric.kind == "cycle":
        cycles = (
            _cycles(scope)
            .filter(_cycle_filters(scope.today)[key])
            .select_related("patient", "pharmacy")
            .order_by("anchor_date", "patient__last_name", "id")
        )
        return [
            _row(c.patient, c.pharmacy, c.anchor_date, c.get_status_display(), c) for c in cycles
        ]
    if metric.kind == "item":
        items = (
            _items(scope)
            .filter(_item_filters(scope.today)[key])
            .select_related("cycle__patient", "cycle__pharmacy", "prescription__drug")
            .order_by("cycle__anchor_date", "cycle__patient__last_name", "fill_date", "id")
        )
        return [
            _row(
                i.cycle.patient,
                i.cycle.pharmacy,
                i.fill_date,
                f"{i.prescription.drug} · {i.get_state_display()}"
                + (f" ({i.get_flag_reason_display()})" if i.flag_reason else ""),
                i.cycle,
            )
            for i in items
        ]
    if metric.kind == "task":
        tasks = _tasks(scope).select_related("patient", "cycle__pharmacy").order_by("due_on", "id")
        return [
            _row(t.patient, t.cycle.pharmacy, t.due_on, t.get_kind_display(), t.cycle)
            for t in tasks
        ]
    if metric.kind == "conversation":
        conversations = (
            _conversations(scope)
            .select_related("patient", "pharmacy")
            .order_by("-last_inbound_at", "-id")
        )
        return [
            _row(
                c.patient,
                c.pharmacy,
                c.last_inbound_at.date() if c.last_inbound_at else None,
                "Unread text",
                None,
                conversation=c,
            )
            for c in conversations
        ]
    return [
        _row(c.patient, c.pharmacy, deadline, "Return-to-stock deadline", c)
        for c, deadline in rts_deadlines(scope)
    ]


def _row(patient, pharmacy, day, what, cycle, conversation=None) -> dict:
    return {
        "patient": patient,
        "pharmacy": pharmacy,
        "date": day,
        "what": what,
        "cycle": cycle,
        "conversation": conversation,
    }


@dataclass
class CalendarDay:
    day: dt.date
    in_month: bool
    patients: int = 0
    fills: int = 0
    capacity: int | None = None
    closed: bool = False

    @property
    def over_capacity(self) -> bool:
        return self.capacity is not None and self.patients > self.capacity

    @property
    def load_class(self) -> str:
        if self.closed:
            return "closed"
        if self.capacity is None or self.capacity == 0:
            return "busy" if self.patients else ""
        share = self.patients / self.capacity
        return "over" if share > 1 else "busy" if share >= 0.8 else ""


def month_calendar(scope: ReportScope, month: dt.date) -> list[list[CalendarDay]]:
    """The weeks (Monday first) of `month` with each day's anchors (patients), their fills,
    the capacity (the sum over the pharmacies in view; None when one has none set) and
    whether every pharmacy in view is closed that weekday. Two queries."""
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    start = first - dt.timedelta(days=first.weekday())
    end = last + dt.timedelta(days=6 - last.weekday())
    sync_settings = settings_by_pharmacy(scope)
    patients: Counter[dt.date] = Counter()
    fills: Counter[dt.date] = Counter()
    for row in planned_anchors(scope, start, end, sync_settings):
        patients[row.anchor] += 1
        fills[row.anchor] += row.fills
    capacities = [s.daily_anchor_capacity for s in sync_settings.values()]
    capacity = sum(capacities) if capacities and all(c is not None for c in capacities) else None
    closed_by_weekday: dict[int, int] = defaultdict(int)
    for s in sync_settings.values():
        for weekday in s.closed_weekdays or ():
            closed_by_weekday[weekday] += 1
    weeks, day = [], start
    while day <= end:
        week = []
        for _ in range(7):
            closed = bool(sync_settings) and closed_by_weekday[day.weekday()] == len(sync_settings)
            week.append(
                CalendarDay(
                    day,
                    day.month == first.month,
                    patients[day],
                    fills[day],
                    None if closed else capacity,
                    closed,
                )
            )
            day += dt.timedelta(days=1)
        weeks.append(week)
    return weeks
