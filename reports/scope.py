"""Which pharmacies a report covers: one the member picked, or every pharmacy they may see
(rolled up across the organization), and the dates it runs over."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject

from medsync.models import Membership, Pharmacy
from medsync.selectors import limit_to_visible_pharmacies, pharmacies_visible_to
from reports.models import ReportSettings
from scheduling.dates import local_today
from scheduling.models import SyncSettings

SYNC_SETTING_FIELDS = ("prep_days", "prefill_days", "closed_weekdays", "daily_anchor_capacity")
REPORT_SETTING_FIELDS = (
    "tech_minutes_per_fill",
    "pharmacist_minutes_per_verification",
    "tech_minutes_per_prep_call",
    "tech_minutes_per_pickup",
    "pharmacist_minutes_per_pickup",
    "order_weekdays",
    "inactive_months",
)

DEFAULT_ZONE = "America/Chicago"
MAX_RANGE_DAYS = 731


class ScopeError(ValueError):
    """A report parameter that names nothing the member may see, or a bad date range."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class ReportScope:
    membership: Membership | None
    pharmacies: list[Pharmacy]  # every pharmacy the member may see
    pharmacy: Pharmacy | None  # the one in view; None = all of them (rolled up)
    today: dt.date

    @property
    def in_view(self) -> list[Pharmacy]:
        return [self.pharmacy] if self.pharmacy is not None else self.pharmacies

    @property
    def pharmacy_param(self) -> str:
        return str(self.pharmacy.public_id) if self.pharmacy is not None else ""

    @property
    def label(self) -> str:
        if self.pharmacy is not None:
            return self.pharmacy.name
        return "All pharmacies" if len(self.pharmacies) != 1 else self.pharmacies[0].name

    def limit(self, queryset: QuerySet, field: str = "pharmacy") -> QuerySet:
        """Rows of the pharmacies in view (never rows the member may not see)."""
        queryset = limit_to_visible_pharmacies(queryset, self.membership, field)
        if self.pharmacy is not None:
            queryset = queryset.filter(**{field: self.pharmacy})
        return queryset


def report_scope(
    membership: Membership | None, pharmacy: str | None = "", *, now: dt.datetime | None = None
) -> ReportScope:
    """The scope of a report page or endpoint (one query: the visible pharmacies). An
    unknown or invisible pharmacy id raises ScopeError (pages and the API answer 404)."""
    pharmacies = list(
        pharmacies_visible_to(membership)
        .annotate(
            sync_settings_json=_settings_json(SyncSettings, SYNC_SETTING_FIELDS),
            report_settings_json=_settings_json(ReportSettings, REPORT_SETTING_FIELDS),
        )
        .order_by("name", "pk")
    )
    chosen = None
    if pharmacy:
        try:
            wanted = uuid.UUID(str(pharmacy))
        except ValueError:
            raise ScopeError("pharmacy", "No such pharmacy.") from None
        chosen = next((p for p in pharmacies if p.public_id == wanted), None)
        if chosen is None:
            raise ScopeError("pharmacy", "No such pharmacy.")
    anchor = chosen or (pharmacies[0] if pharmacies else None)
    today = local_today(anchor.time_zone if anchor else DEFAULT_ZONE, now)
    return ReportScope(membership, pharmacies, chosen, today)


def _settings_json(model, fields):
    rows = model.objects.filter(pharmacy=OuterRef("pk")).values(
        json=JSONObject(**{name: name for name in fields})
    )
    return Subquery(rows[:1])


def sync_settings_of(pharmacy: Pharmacy) -> SyncSettings:
    """The pharmacy's sync settings as report_scope read them (defaults where it has none)."""
    stored = getattr(pharmacy, "sync_settings_json", None) or {}
    return SyncSettings(pharmacy=pharmacy, organization_id=pharmacy.organization_id, **stored)


def report_settings_of(pharmacy: Pharmacy) -> ReportSettings:
    """The pharmacy's report settings as report_scope read them (defaults where it has none)."""
    stored = getattr(pharmacy, "report_settings_json", None) or {}
    return ReportSettings(pharmacy=pharmacy, organization_id=pharmacy.organization_id, **stored)


def month_of(value: str, today: dt.date) -> dt.date:
    """The first day of YYYY-MM, else of this month."""
    try:
        month = dt.datetime.strptime(value, "%Y-%m").date()
    except (TypeError, ValueError):
        return today.replace(day=1)
    return month if 2000 <= month.year <= 2099 else today.replace(day=1)


def parse_date(value: str | None, field: str, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise ScopeError(field, "A date as YYYY-MM-DD.") from None
    if not 1900 <= day.year <= 2099:
        raise ScopeError(field, "A date from 1900 to 2099.")
    return day


def date_range(params, *, today: dt.date, default_days: int = 90) -> tuple[dt.date, dt.date]:
    """start/end from the query string (YYYY-MM-DD), default the last `default_days` days."""
    end = parse_date(params.get("end"), "end", today)
    start = parse_date(params.get("start"), "start", end - dt.timedelta(days=default_days - 1))
    if start > end:
        raise ScopeError("start", "The start must be on or before the end.")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ScopeError("start", f"At most {MAX_RANGE_DAYS} days.")
    return start, end
