"""Pages of the platform core: landing, dashboard shell, pharmacies, team, audit log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from medsync.api.errors import error_body
from medsync.dashboard import cards_for, sections_for
from medsync.decorators import require_permission
from medsync.forms import (
    MemberActionForm,
    MemberInviteForm,
    OrganizationSwitchForm,
    PharmacySettingsForm,
    SendTestTextForm,
)
from medsync.invitations import (
    invitation_accept,
    invitation_account_create,
    invitation_read,
    invited_account,
    member_invite,
)
from medsync.models import User
from medsync.onboarding import checklist_for, pharmacy_settings_sections, test_text_sender
from medsync.roles import ROLE_LANDING_URL_NAME, Perm, Role, role_allows
from medsync.selectors import (
    audit_events,
    choose_membership,
    members_of_organization,
    pharmacies_visible_to,
)
from medsync.services import (
    ACTIVE_ORGANIZATION_SESSION_KEY,
    PHARMACY_SETTINGS_FIELDS,
    active_organization_switch,
    member_change_role,
    member_remove,
    pharmacy_update,
)
from medsync.validators import WEEKDAYS

PAGE_SIZE = 25


@login_required
def home(request):
    if request.membership is None:
        return render(request, "medsync/no_organization.html", status=403)
    return redirect(ROLE_LANDING_URL_NAME[Role(request.membership.role)])


@require_permission(Perm.VIEW_DASHBOARD)
def dashboard(request):
    pharmacies = list(pharmacies_visible_to(request.membership))
    checklist = checklist_for(request)
    return render(
        request,
        "medsync/dashboard.html",
        {
            "pharmacies": pharmacies,
            "incomplete": [p for p in pharmacies if p.missing_for_operation],
            "cards": cards_for(request),
            "sections": sections_for(request),
            "checklist": checklist,
            "checklist_left": [step for step in checklist if not step["done"]],
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
    return render(
        request,
        "medsync/pharmacy_detail.html",
        {
            "pharmacy": pharmacy,
            "can_manage": role_allows(request.membership.role, Perm.MANAGE_PHARMACIES),
        },
    )


@require_permission(Perm.MANAGE_MEMBERS)
def team(request):
    errors = {}
    form = MemberInviteForm(request.POST or None)
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise ValidationError(form.errors)
            member_invite(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(
                request,
                "Invitation sent. They join the team when they accept it "
                "(the link works for 3 days).",
            )
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
    form = MemberActionForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError([m for msgs in form.errors.values() for m in msgs])
        if form.cleaned_data["action"] == "remove":
            member_remove(membership=membership, actor=request.user)
            messages.success(request, f"Removed {membership.user.email} from the team.")
        else:
            member_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
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
    form = OrganizationSwitchForm(request.POST)
    if not form.is_valid():
        raise Http404("No such organization.")
    wanted = str(form.cleaned_data["organization"])
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


def invitation(request, token):
    """An emailed invitation: sign in and accept, or (someone new) choose a password."""
    invited = invitation_read(token)
    if invited is None:
        return render(request, "registration/invitation.html", {"state": "invalid"}, status=404)
    context = {"invitation": invited, "organization": invited.organization}
    user = request.user
    if user.is_authenticated:
        if user.email.lower() != invited.email:
            return render(
                request, "registration/invitation.html", {**context, "state": "other"}, status=403
            )
        if request.method == "POST":
            membership = invitation_accept(invitation=invited, user=user)
            request.session[ACTIVE_ORGANIZATION_SESSION_KEY] = str(
                membership.organization.public_id
            )
            messages.success(request, f"You joined {invited.organization.name}.")
            return redirect("home")
        return render(request, "registration/invitation.html", {**context, "state": "accept"})
    existing = invited_account(invited)
    if existing is not None and existing.has_usable_password():
        return redirect_to_login(request.get_full_path())
    form = SetPasswordForm(existing or User(email=invited.email), request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation_account_create(
                invitation=invited, password=form.cleaned_data["new_password1"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Your account is ready and you are on the team: sign in.")
            return redirect("login")
    return render(
        request, "registration/invitation.html", {**context, "state": "new", "form": form}
    )


# --- Pharmacy settings and the first-run checklist -------------------------------------------


def _managed_pharmacy_or_404(request, public_id):
    pharmacy = pharmacies_visible_to(request.membership).filter(public_id=public_id).first()
    if pharmacy is None:
        raise Http404("No such pharmacy.")
    return pharmacy


def _settings_initial(pharmacy) -> dict:
    initial = {field: getattr(pharmacy, field) for field in PHARMACY_SETTINGS_FIELDS}
    for day in WEEKDAYS:
        initial[f"hours_{day}"] = (pharmacy.hours or {}).get(day, "")
    initial["closed_dates"] = "\n".join(pharmacy.closed_dates or [])
    return initial


@require_permission(Perm.MANAGE_PHARMACIES)
def pharmacy_settings(request, public_id):
    pharmacy = _managed_pharmacy_or_404(request, public_id)
    form = PharmacySettingsForm(request.POST or None, initial=_settings_initial(pharmacy))
    if request.method == "POST" and form.is_valid():
        try:
            pharmacy_update(pharmacy=pharmacy, actor=request.user, changes=form.changes())
        except ValidationError as exc:
            for field, messages_ in exc.message_dict.items():
                if field == "hours":
                    field = None
                for message in messages_:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, f"Saved the settings of {pharmacy.name}.")
            return redirect("pharmacy-settings", public_id=pharmacy.public_id)
    return render(
        request,
        "medsync/pharmacy_settings.html",
        {
            "pharmacy": pharmacy,
            "form": form,
            "weekdays": [form[f"hours_{day}"] for day in WEEKDAYS],
            "test_form": SendTestTextForm(),
            "can_test": test_text_sender() is not None,
            "sections": pharmacy_settings_sections.render_all(request, pharmacy),
        },
    )


@require_permission(Perm.MANAGE_PHARMACIES)
@require_POST
def pharmacy_test_text(request, public_id):
    pharmacy = _managed_pharmacy_or_404(request, public_id)
    form = SendTestTextForm(request.POST)
    send = test_text_sender()
    try:
        if not form.is_valid() or send is None:
            raise ValidationError("Enter your mobile number.")
        send(pharmacy=pharmacy, to=form.cleaned_data["to"], actor=request.user)
    except ValidationError as exc:
        messages.error(request, "The test text was not sent: " + " ".join(exc.messages))
    else:
        messages.success(request, "Test text sent: check your phone.")
    return redirect(reverse("pharmacy-settings", args=[pharmacy.public_id]) + "#texting")


@require_permission(Perm.MANAGE_PHARMACIES)
def setup_checklist(request):
    steps = checklist_for(request)
    return render(
        request,
        "medsync/setup.html",
        {"steps": steps, "left": [step for step in steps if not step["done"]]},
    )
