"""Pages of the platform core: landing, dashboard shell, pharmacies, team, audit log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from medsync.api.errors import error_body
from medsync.dashboard import cards_for
from medsync.decorators import require_permission
from medsync.roles import ROLE_LANDING_URL_NAME, Perm, Role
from medsync.selectors import (
    audit_events,
    choose_membership,
    members_of_organization,
    pharmacies_visible_to,
)
from medsync.services import (
    active_organization_switch,
    member_change_role,
    member_invite,
    member_remove,
)

PAGE_SIZE = 25


@login_required
def home(request):
    if request.membership is None:
        return render(request, "medsync/no_organization.html", status=403)
    return redirect(ROLE_LANDING_URL_NAME[Role(request.membership.role)])


@require_permission(Perm.VIEW_DASHBOARD)
def dashboard(request):
    pharmacies = list(pharmacies_visible_to(request.membership))
    return render(
        request,
        "medsync/dashboard.html",
        {
            "pharmacies": pharmacies,
            "incomplete": [p for p in pharmacies if p.missing_for_operation],
            "cards": cards_for(request),
        },
    )


@require_permission(Perm.VIEW_PHARMACIES)
def pharmacy_list(request):
    page = Paginator(pharmacies_visible_to(request.membership), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "medsync/pharmacy_list.html", {"page": page})


@require_permission(Perm.VIEW_PHARMACIES)
def pharmacy_detail(request, public_id):
    pharmacy = pharmacies_visible_to(request.membership).filter(public_id=public_id).first()
    if pharmacy is None:
        raise Http404("No such pharmacy.")
    return render(request, "medsync/pharmacy_detail.html", {"pharmacy": pharmacy})


@require_permission(Perm.MANAGE_MEMBERS)
def team(request):
    errors = {}
    if request.method == "POST":
        try:
            member_invite(
                email=request.POST.get("email", ""),
                role=request.POST.get("role", ""),
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, "Added. A new person gets an email to set a password.")
            return redirect("team")
    page = Paginator(members_of_organization(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "medsync/team.html",
        {"page": page, "roles": Role.choices, "errors": errors, "posted": request.POST},
    )


@require_permission(Perm.MANAGE_MEMBERS)
@require_POST
def team_member(request, public_id):
    membership = members_of_organization().filter(public_id=public_id).first()
    if membership is None:
        raise Http404("No such member.")
    try:
        if request.POST.get("action") == "remove":
            member_remove(membership=membership, actor=request.user)
            messages.success(request, f"Removed {membership.user.email} from the team.")
        else:
            member_change_role(
                membership=membership, role=request.POST.get("role", ""), actor=request.user
            )
            messages.success(request, f"{membership.user.email} is now {membership.role}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("team")


@require_permission(Perm.VIEW_AUDIT_LOG)
def audit_log(request):
    action = request.GET.get("action", "").strip()
    page = Paginator(audit_events(action_prefix=action), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "medsync/audit_log.html", {"page": page, "action": action})


@login_required
@require_POST
def switch_organization(request):
    wanted = request.POST.get("organization", "")
    membership = choose_membership(getattr(request, "all_memberships", []), wanted)
    if membership is None or str(membership.organization.public_id) != wanted:
        raise Http404("No such organization.")
    active_organization_switch(session=request.session, membership=membership, actor=request.user)
    messages.success(request, f"You are now working in {membership.organization.name}.")
    return redirect("home")


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side. It was logged."),
            status=500,
        )
    return render(request, "500.html", status=500)


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)
