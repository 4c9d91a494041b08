"""The return-to-stock card: billed fills on the shelf whose payer's window closes within the
next 3 days (scheduling knows what is on the shelf; billing holds the paid claims)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from billing.selectors import paid_claims_for_items, plan_rules_for_many
from medsync.selectors import limit_to_visible_pharmacies
from scheduling.dates import local_today
from scheduling.models import CycleItem
from scheduling.states import ITEM_ON_SHELF
from scheduling.sweeps.returns import return_deadline

SOON_DAYS = 3


def returns_card(request):
    items = dict(
        limit_to_visible_pharmacies(
            CycleItem.objects.filter(state__in=ITEM_ON_SHELF), request.membership, "cycle__pharmacy"
        ).values_list("pk", "cycle__pharmacy__time_zone")
    )
    claims = paid_claims_for_items(items)
    rules = plan_rules_for_many({c.coverage for c in claims.values() if c.coverage})
    now = dt.datetime.now(dt.UTC)
    soon = 0
    for item_id, claim in claims.items():
        time_zone = items[item_id]
        left = (return_deadline(claim, rules, time_zone) - local_today(time_zone, now)).days
        if 0 <= left <= SOON_DAYS:
            soon += 1
    url = reverse("fill-queue")
    return {
        "title": "Return to stock",
        "lines": [
            {"label": "Unclaimed fills whose window closes in 3 days", "value": soon, "url": url}
        ],
        "note": "Call these patients today: the claims are reversed when the window closes."
        if soon
        else "No unclaimed fill is near its payer's window.",
    }
