"""Reads of the platform core that pages, the API and jobs share."""

from __future__ import annotations

from django.db.models import QuerySet

from medsync.models import AuditEvent, Membership, Organization, Pharmacy, User
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
    """The pharmacies of the active tenant that this member may see."""
    pharmacies = Pharmacy.objects.filter(is_active=True).order_by("name")
    if membership.limited_to_pharmacies:
        pharmacies = pharmacies.filter(
            pk__in=membership.membershippharmacy_set.values("pharmacy_id")
        )
    return pharmacies


def members_of_organization() -> QuerySet[Membership]:
    return Membership.objects.select_related("user").order_by("user__email")


def audit_events(*, action_prefix: str = "") -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor")
    if action_prefix:
        events = events.filter(action__startswith=action_prefix)
    return events


def organization_by_public_id(public_id: str) -> Organization | None:
    return Organization.objects.filter(public_id=public_id, is_active=True).first()
