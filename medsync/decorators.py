"""Page access: logged in, a member of the active organization, a role that allows it."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from medsync.roles import Perm, role_allows


def require_permission(perm: Perm | None):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                return render(request, "medsync/no_organization.html", status=403)
            if perm is not None and not role_allows(request.membership.role, perm):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        wrapper.required_permission = perm
        return wrapper

    return decorator
