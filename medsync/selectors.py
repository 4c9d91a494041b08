"""Reads of the platform core that pages, the API and jobs share."""

from __future__ import annotations

from django.db.models import QuerySet

from medsync.models import AuditEvent, Membership, Pharmacy, User
from medsync.tenancy import scopes_disabled


def memberships_of_user(user: User) -> list[Membership]:
    """All of a user's memberships across organizations.

    A named escape from tenant scope: at login the tenant is what we are
    trying to find, so this one read crosses organizations, for one user only.
    """
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, organization__is_active=True)
            .select_related("organization")
            .order_by("created_at", "id")
        )


def choose_membership(
    memberships: list[Membership], organization_public_id: str | None
) -> Membership | None:
    """The membership to act in: the one asked for if the user has it, else the first."""
    if organization_public_id:
        for membership in memberships:
            if str(membership.organization.public_id) == str(organization_public_id):
                return membership
    return memberships[0] if memberships else None


def pharmacies_visible_to(membership: Membership) -> QuerySet[Pharmacy]:
    """The active pharmacies of the tenant that this member may see: the one visibility rule.

    A member limited to some pharmacies sees those (while active); everyone else sees every
    active pharmacy of the organization. Every app limits its rows through
    `limit_to_visible_pharmacies`, which reads this, so the rule cannot drift.
    """
    pharmacies = Pharmacy.objects.filter(is_active=True).order_by("name")
    if membership.limited_to_pharmacies:
        pharmacies = pharmacies.filter(
            pk__in=membership.membershippharmacy_set.values("pharmacy_id")
        )
    return pharmacies


def limit_to_visible_pharmacies(
    queryset: QuerySet, membership: Membership | None, pharmacy_field: str = "pharmacy"
) -> QuerySet:
    """`queryset` cut to rows whose `pharmacy_field` is a pharmacy the member may see.

    Organization-wide members (and jobs, which act for no member: `membership=None`) see
    every row of the tenant. A limited member sees rows of their active pharmacies; the
    limit is a subquery, so it costs no extra query.
    """
    if membership is None or not membership.limited_to_pharmacies:
        return queryset
    visible = pharmacies_visible_to(membership).order_by().values("pk")
    return queryset.filter(**{f"{pharmacy_field}__in": visible})


def patient_pharmacy_limit(membership: Membership | None) -> QuerySet[Pharmacy] | None:
    """The pharmacies whose patients this member may see, or None for the whole tenant.

    The patient half of the visibility rule: jobs (`membership=None`), organization-wide
    members, and every member of an organization that shares patient records across its
    pharmacies see every patient; a limited member sees the patients tied to the pharmacies
    `pharmacies_visible_to` gives them. What ties a patient to a pharmacy (home pharmacy, a
    prescription, a sync cycle) is `patients.visibility`, built on this.
    """
    if membership is None or not membership.limited_to_pharmacies:
        return None
    if membership.organization.share_patient_records:
        return None
    return pharmacies_visible_to(membership).order_by().values("pk")


def members_of_organization() -> QuerySet[Membership]:
    return Membership.objects.select_related("user").order_by("user__email")


def audit_events(*, action_prefix: str = "") -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor")
    if action_prefix:
        events = events.filter(action__startswith=action_prefix)
    return events
