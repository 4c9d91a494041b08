from rest_framework import exceptions, permissions

from medsync.roles import role_allows


class RoleAllows(permissions.BasePermission):
    """Default for every API view: a member of the active organization whose role
    allows the view's `required_permission` (a Perm, or a dict of action -> Perm)."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        membership = getattr(request, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied("You are not a member of any organization.")
        required = getattr(view, "required_permission", None)
        if isinstance(required, dict):
            required = required.get(getattr(view, "action", None) or request.method.lower())
        if required is None:
            return True  # any member: e.g. /me/
        return role_allows(membership.role, required)
