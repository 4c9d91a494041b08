"""The program card on the dashboard: who to enroll next."""

from django.core.cache import cache
from django.urls import reverse

from reports.selectors import eligibility_candidates


def candidates_card(request):
    from django.utils import timezone

    from medsync.roles import Perm, role_allows

    if not role_allows(request.membership.role, Perm.VIEW_REPORTS):
        return None
    membership = request.membership
    # Members limited to some pharmacies count only the patients they may see.
    audience = membership.pk if membership.limited_to_pharmacies else "all"
    key = f"dashboard:candidates:{request.organization.pk}:{audience}:{timezone.localdate()}"
    counts = cache.get(key)
    if counts is None:
        # The finder reads six months of fills: cached ten minutes per organization.
        candidates = [
            c
            for c in eligibility_candidates(today=timezone.localdate(), membership=membership)
            if c.qualifies
        ]
        counts = (len(candidates), sum(1 for c in candidates if c.below_80_classes))
        cache.set(key, counts, timeout=600)
    qualifying, below = counts
    return {
        "title": "Who to enroll next",
        "lines": [
            {
                "label": "Qualify (2+ chronic medications)",
                "value": qualifying,
                "url": reverse("eligibility"),
            },
            {
                "label": "…with a Star PDC below 80%",
                "value": below,
                "url": reverse("eligibility") + "?show=below80",
            },
        ],
    }
