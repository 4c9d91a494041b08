from rest_framework import exceptions, permissions

from medsync.roles import role_allows

# A view that never declared `required_permission` is refused (fail closed); `None` is
# how a view says "any member" (e.g. /me/).
_UNDECLARED = object()


class RoleAllows(permissions.BasePermission):
    """Default for every API view: a member of the active organization whose role
    allows the view's `required_permission` (a Perm, None for any member, or a dict of
    action -> Perm in which an action it does not list is refused)."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        membership = getattr(request, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied("You are not a member of any organization.")
        required = getattr(view, "required_permission", _UNDECLARED)
        if required is _UNDECLARED:
            return False
        if isinstance(required, dict):
            action = getattr(view, "action", None) or request.method.lower()
            if action not in required:
                return False
            required = required[action]
        if required is None:
            return True  # any member: e.g. /me/
        return role_allows(membership.role, required)
