"""Sign-in pages (password, then a second factor), enrollment, and the account page where a
person sees and ends their sessions and API tokens, changes their password and resets MFA."""

from __future__ import annotations

import base64
from urllib.parse import quote

import django_otp
import segno
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from medsync.accounts import mfa
from medsync.accounts.forms import CodeForm, EnrollForm, OrganizationSecurityForm
from medsync.accounts.forms import PasswordAndCodeForm as _PasswordAndCodeForm
from medsync.accounts.selectors import (
    confirmed_totp_device,
    device_may_be_remembered,
    mfa_must_enroll,
    mfa_needed,
    recovery_codes_left,
    sessions_of_user,
    tokens_of_user,
)
from medsync.accounts.services import (
    mfa_enroll_confirm,
    mfa_failure_record,
    mfa_reset,
    mfa_verify,
    organization_security_update,
    password_changed,
    recovery_codes_regenerate,
    totp_device_start,
    user_session_end,
    user_sessions_end_others,
)
from medsync.accounts.sessions import hash_session_key
from medsync.decorators import require_permission
from medsync.forms import EmailAuthenticationForm
from medsync.redirects import safe_next
from medsync.roles import Perm
from medsync.selectors import members_of_organization, memberships_of_user
from medsync.services import api_token_revoke, audit_record


def next_page(request, fallback: str = "home") -> str:
    """The `next` parameter if it points at this site, else the `fallback` page."""
    return safe_next(
        request, request.POST.get("next"), request.GET.get("next"), fallback=reverse(fallback)
    )


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?next={quote(next_url)}"


def _verified(request, device) -> None:
    """Mark this session as having passed its second factor; a new session key, since the
    session just gained privilege (no fixation)."""
    request.session.cycle_key()
    django_otp.login(request, device)
    axes_reset(username=request.user.email)


class LoginView(auth_views.LoginView):
    """Step one: email and password. Then a code, or enrollment, unless a technician's
    counter computer remembers their second factor (12 hours, where allowed)."""

    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        request, user = self.request, form.get_user()
        memberships = memberships_of_user(user)
        if not mfa_needed(user, memberships):
            return response
        device = confirmed_totp_device(user)
        if (
            device is not None
            and device_may_be_remembered(user, memberships)
            and mfa.remembered_device_ok(
                request.COOKIES.get(mfa.REMEMBER_DEVICE_COOKIE, ""),
                user_public_id=str(user.public_id),
                password_hash=user.password,
            )
        ):
            _verified(request, device)
            audit_record(
                action="medsync.mfa.remembered_device_used",
                actor=user,
                organization=None,
                target=user,
            )
            return response
        step = "mfa-verify" if device is not None else "mfa-enroll"
        return HttpResponseRedirect(_with_next(step, response.url))


@never_cache
@login_required
def mfa_verify_page(request):
    """Step two: a code from the authenticator app, or a recovery code."""
    user = request.user
    next_url = next_page(request)
    if user.is_verified():
        return redirect(next_url)
    memberships = memberships_of_user(user)
    if confirmed_totp_device(user) is None:
        return redirect(_with_next("mfa-enroll", next_url))
    may_remember = device_may_be_remembered(user, memberships)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = mfa_verify(user=user, code=form.cleaned_data["code"])
        if device is not None:
            _verified(request, device)
            response = redirect(next_url)
            if may_remember and form.cleaned_data.get("remember"):
                response.set_cookie(
                    mfa.REMEMBER_DEVICE_COOKIE,
                    mfa.remember_device_cookie(
                        user_public_id=str(user.public_id), password_hash=user.password
                    ),
                    max_age=int(mfa.REMEMBER_DEVICE_FOR.total_seconds()),
                    secure=settings.SESSION_COOKIE_SECURE,
                    httponly=True,
                    samesite="Lax",
                )
            return response
        if mfa_failure_record(request=request, user=user, stage="sign_in"):
            logout(request)
            return render(request, "registration/locked_out.html", status=429)
        form.add_error("code", "That code did not work. Check the app and try again.")
    return render(
        request,
        "accounts/mfa_verify.html",
        {"form": form, "next": next_url, "may_remember": may_remember},
    )


def _qr_svg(device) -> str:
    return segno.make(device.config_url, error="m").svg_inline(scale=4, light="#fff", border=2)


def _secret_text(device) -> str:
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
def mfa_enroll_page(request):
    """Set up an authenticator app: scan the code (or type the secret), confirm with a
    code; ten single-use recovery codes are shown once."""
    user = request.user
    next_url = next_page(request)
    if confirmed_totp_device(user) is not None:
        return redirect(next_url if user.is_verified() else _with_next("mfa-verify", next_url))
    device = totp_device_start(user=user)
    form = EnrollForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = mfa_enroll_confirm(user=user, device=device, code=form.cleaned_data["code"])
        if codes is not None:
            _verified(request, device)
            return _recovery_codes_response(request, codes, next_url)
        # Not counted toward the lockout: the secret was just shown to this session.
        audit_record(
            action="medsync.mfa.failed",
            actor=user,
            organization=None,
            target=user,
            metadata={"stage": "enroll"},
        )
        form.add_error("code", "That code did not match. Check the app's clock and try again.")
    return render(
        request,
        "accounts/mfa_enroll.html",
        {
            "form": form,
            "next": next_url,
            "qr_svg": _qr_svg(device),
            "secret": _secret_text(device),
            "required": mfa_must_enroll(user),
        },
    )


def _recovery_codes_response(request, codes: list[str], next_url: str):
    response = render(request, "accounts/recovery_codes.html", {"codes": codes, "next": next_url})
    add_never_cache_headers(response)  # Cache-Control: no-store: shown once, kept nowhere
    return response


@never_cache
@login_required
def account_security(request):
    """Your second factor, your signed-in sessions and your API tokens, with revoke."""
    user = request.user
    current = hash_session_key(request.session.session_key or "")
    sessions = list(sessions_of_user(user))
    for session in sessions:
        session.is_current = session.session_key == current
    return render(
        request,
        "accounts/security.html",
        {
            "device": confirmed_totp_device(user),
            "codes_left": recovery_codes_left(user),
            "sessions": sessions,
            "tokens": list(tokens_of_user(user)),
            "must_enroll": mfa_must_enroll(user),
        },
    )


@login_required
@require_POST
def token_revoke(request, public_id):
    token = tokens_of_user(request.user).filter(public_id=public_id).first()
    if token is None:
        raise Http404("No such token.")
    api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token {token.prefix}… no longer works.")
    return redirect("account-security")


@login_required
@require_POST
def session_end(request, public_id):
    session = sessions_of_user(request.user).filter(public_id=public_id).first()
    if session is None:
        raise Http404("No such session.")
    if session.session_key == hash_session_key(request.session.session_key or ""):
        messages.error(request, "That is this session: use Log out.")
        return redirect("account-security")
    user_session_end(user=request.user, session=session)
    messages.success(request, "That session is signed out.")
    return redirect("account-security")


@login_required
@require_POST
def sessions_end_others(request):
    ended = user_sessions_end_others(
        user=request.user, keep_session_key=request.session.session_key
    )
    messages.success(request, f"Signed out everywhere else ({ended} session(s)).")
    return redirect("account-security")


def _failed_proof(request, form, *, stage: str):
    """A wrong password or code here counts toward the lockout like one at sign-in; the
    429 page (after signing out) when it locked the account, else None."""
    if not ({"password", "code"} & set(form.errors)):
        return None
    if mfa_failure_record(request=request, user=request.user, stage=stage):
        logout(request)
        return render(request, "registration/locked_out.html", status=429)
    return None


class PasswordAndCodeForm(_PasswordAndCodeForm):
    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            device = mfa_verify(user=self.user, code=cleaned.get("code", ""))
            if device is None:
                self.add_error("code", "That code did not work.")
        return cleaned


@never_cache
@login_required
def recovery_codes_new(request):
    """Ten new recovery codes (the old ones stop working), after password and code."""
    form = PasswordAndCodeForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            codes = recovery_codes_regenerate(user=request.user)
            return _recovery_codes_response(request, codes, reverse("account-security"))
        locked = _failed_proof(request, form, stage="recovery_codes")
        if locked is not None:
            return locked
    return render(
        request,
        "accounts/confirm_identity.html",
        {
            "form": form,
            "title": "New recovery codes",
            "explain": "Your old recovery codes stop working once you see the new ones.",
            "button": "Show new recovery codes",
        },
    )


@never_cache
@login_required
def mfa_reset_page(request):
    """Remove your authenticator (lost phone, new phone): every API token is revoked and
    every other session signed out; you set up a new one straight away."""
    form = PasswordAndCodeForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            mfa_reset(
                user=request.user,
                actor=request.user,
                keep_session_key=request.session.session_key,
            )
            request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
            request.session.cycle_key()
            messages.success(request, "Your second factor was removed. Set up a new one now.")
            return redirect(_with_next("mfa-enroll", reverse("account-security")))
        locked = _failed_proof(request, form, stage="mfa_reset")
        if locked is not None:
            return locked
    return render(
        request,
        "accounts/confirm_identity.html",
        {
            "form": form,
            "title": "Reset your second factor",
            "explain": "This removes your authenticator app and recovery codes, revokes all "
            "your API tokens and signs out your other sessions.",
            "button": "Reset my second factor",
        },
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change your password: every API token is revoked, every other session signed out,
    and remembered devices forgotten (they are bound to the password)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("account-security")

    def form_valid(self, form):
        response = super().form_valid(form)  # saves, keeps this session (new key)
        password_changed(
            user=form.user, actor=form.user, keep_session_key=self.request.session.session_key
        )
        messages.success(
            self.request,
            "Password changed. Your API tokens were revoked and your other sessions signed out.",
        )
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The emailed reset link: a new password revokes every API token and session."""

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed(user=form.user, actor=None, keep_session_key=None)
        return response


@require_permission(Perm.MANAGE_MEMBERS)
def organization_security(request):
    """Owners decide whether technicians must use a second factor, and whether a
    technician's counter computer may remember it for 12 hours."""
    organization = request.organization
    form = OrganizationSecurityForm.for_organization(organization, request.POST or None)
    if request.method == "POST" and form.is_valid():
        organization_security_update(
            organization=organization,
            technicians_need_mfa=form.cleaned_data["technicians_need_mfa"],
            technicians_may_remember_device=form.cleaned_data["technicians_may_remember_device"],
            actor=request.user,
        )
        messages.success(request, "Sign-in settings saved.")
        return redirect("organization-security")
    return render(request, "accounts/organization_security.html", {"form": form})


@require_permission(Perm.MANAGE_MEMBERS)
@require_POST
def member_mfa_reset(request, public_id):
    """An owner resets a team member's second factor (a lost phone at a busy counter): their
    tokens are revoked, their sessions ended, and they set up a new one at their next
    sign-in. Only for someone who works for this organization alone; anyone else asks
    MedSync support, so one organization cannot weaken another's member."""
    membership = members_of_organization().filter(public_id=public_id).first()
    if membership is None:
        raise Http404("No such member.")
    member = membership.user
    if member.pk == request.user.pk:
        messages.error(request, "Reset your own second factor from your account page.")
    elif member.is_staff or len(memberships_of_user(member)) > 1:
        messages.error(
            request, f"{member.email} also works elsewhere: ask MedSync support to reset it."
        )
    else:
        mfa_reset(user=member, actor=request.user)
        messages.success(
            request, f"{member.email} sets up a new second factor at their next sign-in."
        )
    return redirect("team")
