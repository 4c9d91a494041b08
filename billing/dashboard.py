"""The claims card on the dashboard: rejects still to work, by code."""

from __future__ import annotations

from django.urls import reverse

from billing import selectors
from billing.rejects import REJECT_CODES


def claims_card(request):
    counts = selectors.reject_counts(membership=request.membership)
    url = reverse("claim-list")
    lines = [
        {
            "label": f"Reject {code}: {REJECT_CODES.get(code, ('Other', ''))[0]}",
            "value": counts[code],
            "url": f"{url}?status=rejected&reject_code={code}",
        }
        for code in sorted(counts)
    ]
    total = sum(counts.values())
    note = (
        "Open a reject for its fix; resubmitting is one action."
        if total
        else ("No rejects to work.")
    )
    return {
        "title": "Claims to work",
        "lines": lines or [{"label": "Rejects to work", "value": 0, "url": url}],
        "note": note,
        "action": {"label": "All claims", "url": url},
    }
