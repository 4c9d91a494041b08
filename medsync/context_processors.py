from medsync.roles import Perm, role_allows


def tenant(request):
    """The active organization, role, permissions and the switcher's choices."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"active_membership": None}
    role = membership.role

    def allowed(perm: Perm) -> bool:
        return role_allows(role, perm)

    return {
        "active_membership": membership,
        "active_organization": membership.organization,
        "can": {perm.name.lower(): allowed(perm) for perm in Perm},
        "switchable_memberships": [
            other
            for other in getattr(request, "all_memberships", [])
            if other.organization_id != membership.organization_id
        ],
    }
