"""The staff inbox, a patient's texting settings, and the templates (htmx where live)."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.middleware import is_poll
from medsync.models import Pharmacy
from medsync.roles import Perm, role_allows
from medsync.services import audit_record
from messaging import rules, selectors, services
from messaging.defaults import DEFAULT_TEMPLATES, TEMPLATE_KINDS
from messaging.exceptions import MessagingError
from messaging.forms import (
    AssignForm,
    CloseForm,
    PatientConsentForm,
    ReplyForm,
    SimulateForm,
    TemplateForm,
)
from messaging.models import (
    AUTOMATED_KINDS,
    ConsentMethod,
    Language,
    MessageKind,
)
from patients.models import Patient
from patients.services import patient_viewed

PAGE_SIZE = 25


def _inbox_context(request):
    view = request.GET.get("view", "unread")
    if view not in selectors.INBOX_VIEWS:
        view = "unread"
    query = request.GET.get("q", "").strip()[:60]
    conversations = selectors.conversations_for_inbox(request.membership, view=view, query=query)
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "view": view,
        "views": selectors.INBOX_VIEWS,
        "query": query,
        "unread_total": selectors.unread_total(request.membership),
    }


@require_permission(Perm.REPLY_MESSAGES)
def inbox(request):
    context = _inbox_context(request)
    if request.htmx and request.GET.get("partial") == "list":
        # The 20-second refresh of a page whose load was audited below.
        return render(request, "messaging/_conversation_list.html", context)
    audit_record(
        action="messaging.conversation.listed",
        actor=request.user,
        metadata={"view": context["view"], "count": context["page"].paginator.count},
    )
    return render(request, "messaging/inbox.html", context)


def _conversation_or_404(request, public_id):
    conversation = selectors.conversation_for_member(request.membership, public_id)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def _thread_context(request, conversation, **extra):
    return {
        "conversation": conversation,
        "thread": list(selectors.conversation_messages(conversation)),
        "members": selectors.assignable_members(),
        "simulator": settings.MESSAGING_SIMULATOR_ENABLED,
        "max_chars": services.MANUAL_MAX_CHARS,
        **extra,
    }


@require_permission(Perm.REPLY_MESSAGES)
def conversation_detail(request, public_id):
    conversation = _conversation_or_404(request, public_id)
    if not is_poll(request):
        # Opening a conversation reads it; the 10-second refresh of an open screen does not
        # (a text that arrives while nobody is at the counter stays unread).
        services.conversation_mark_read(conversation=conversation, actor=request.user)
    if request.htmx and request.GET.get("partial") == "thread":
        return render(request, "messaging/_thread.html", _thread_context(request, conversation))
    if conversation.patient is not None:
        patient_viewed(
            patient=conversation.patient, actor=request.user, via="messaging.conversation"
        )
    else:
        audit_record(
            action="messaging.conversation.viewed", actor=request.user, target=conversation
        )
    state = selectors.patient_sms_state(conversation.patient) if conversation.patient else {}
    return render(
        request,
        "messaging/conversation.html",
        _thread_context(request, conversation, state=state),
    )


@require_permission(Perm.REPLY_MESSAGES)
@require_POST
def conversation_reply(request, public_id):
    conversation = _conversation_or_404(request, public_id)
    form = ReplyForm(request.POST)
    form.is_valid()  # every field is optional: the service says what is wrong with the text
    body = form.cleaned_data.get("body", "")
    choice = form.cleaned_data.get("outside_window", services.QUIET_WARN)
    error = warning = ""
    try:
        message = services.manual_message_send(
            conversation=conversation, body=body, actor=request.user, outside_window=choice
        )
        body = ""
        if message.defer_reason:
            local = (
                timezone.localtime(
                    message.due_at, selectors.patient_time_zone(conversation.patient)
                )
                if conversation.patient
                else message.due_at
            )
            warning = f"Held: it goes out at {local:%a %H:%M} (patient's time)."
    except MessagingError as exc:
        if exc.code == "quiet_hours":
            warning = exc.message
        else:
            error = exc.message
    context = _thread_context(
        request,
        conversation,
        body=body,
        error=error,
        warning=warning,
        quiet_choice=warning and error == "" and body != "",
    )
    if request.htmx:
        return render(request, "messaging/_thread_and_form.html", context, status=200)
    if error:
        flash.error(request, error)
    elif warning:
        flash.warning(request, warning)
    return redirect("messaging-conversation", public_id=conversation.public_id)


@require_permission(Perm.REPLY_MESSAGES)
@require_POST
def conversation_assign(request, public_id):
    conversation = _conversation_or_404(request, public_id)
    form = AssignForm(request.POST)
    wanted = form.cleaned_data["assignee"] if form.is_valid() else ""
    assignee = None
    if wanted == "me":
        assignee = request.user
    elif wanted:
        member = selectors.assignable_members().filter(user__public_id=wanted).first()
        if member is None:
            raise Http404("No such member.")
        assignee = member.user
    services.conversation_assign(conversation=conversation, assignee=assignee, actor=request.user)
    flash.success(
        request, f"Assigned to {assignee}." if assignee else "The conversation is unassigned."
    )
    return redirect("messaging-conversation", public_id=conversation.public_id)


@require_permission(Perm.REPLY_MESSAGES)
@require_POST
def conversation_close(request, public_id):
    conversation = _conversation_or_404(request, public_id)
    form = CloseForm(request.POST)
    if form.is_valid() and form.cleaned_data["reopen"]:
        services.conversation_reopen(conversation=conversation, actor=request.user)
        flash.success(request, "Reopened.")
        return redirect("messaging-conversation", public_id=conversation.public_id)
    services.conversation_close(conversation=conversation, actor=request.user)
    flash.success(request, "Closed.")
    return redirect(reverse("messaging-inbox"))


@require_permission(Perm.REPLY_MESSAGES)
@require_POST
def conversation_simulate(request, public_id):
    """Development only: make the patient "text" the pharmacy."""
    conversation = _conversation_or_404(request, public_id)
    if not settings.MESSAGING_SIMULATOR_ENABLED:
        raise Http404("The simulator is off.")
    form = SimulateForm(request.POST)
    body = form.cleaned_data["body"] if form.is_valid() else ""
    if body:
        try:
            services.inbound_message_simulate(
                conversation=conversation, body=body, actor=request.user
            )
        except MessagingError as exc:
            flash.error(request, exc.message)
    if request.htmx:
        return render(request, "messaging/_thread.html", _thread_context(request, conversation))
    return redirect("messaging-conversation", public_id=conversation.public_id)


# --- A patient's texting settings -------------------------------------------------------------


def _patient_or_404(request, public_id) -> Patient:
    patient = selectors.patient_for_member(request.membership, public_id)
    if patient is None:
        raise Http404("No such patient.")
    return patient


@require_permission(Perm.VIEW_PATIENTS)
def patient_messaging(request, public_id):
    patient = _patient_or_404(request, public_id)
    patient_viewed(patient=patient, actor=request.user, via="messaging.settings")
    state = selectors.patient_sms_state(patient)
    recent = selectors.messages_list(patient=patient)[:20]
    return render(
        request,
        "messaging/patient_messaging.html",
        {
            "patient": patient,
            **state,
            "recent": recent,
            "methods": ConsentMethod.choices,
            "languages": Language.choices,
            "default_start": time(settings.MESSAGING_QUIET_HOURS_START),
            "default_end": time(settings.MESSAGING_QUIET_HOURS_END),
        },
    )


@require_permission(Perm.EDIT_PATIENTS)
@require_POST
def patient_consent(request, public_id):
    patient = _patient_or_404(request, public_id)
    form = PatientConsentForm(request.POST)
    if not form.is_valid():
        flash.error(request, form.error_text())
        return redirect("messaging-patient", public_id=patient.public_id)
    data = form.cleaned_data
    action = data["action"]
    try:
        if action == "grant":
            services.sms_consent_grant(
                patient=patient, method=data["method"], actor=request.user, note=data["note"]
            )
            flash.success(request, "Consent recorded.")
        elif action == "withdraw":
            services.sms_consent_withdraw(patient=patient, actor=request.user, note=data["note"])
            flash.success(request, "Consent withdrawn: no more automated texts.")
        elif action == "preferences":
            services.sms_preferences_update(
                patient=patient,
                actor=request.user,
                language=data["language"],
                quiet_start=data["quiet_start"],
                quiet_end=data["quiet_end"],
            )
            flash.success(request, "Preferences saved.")
        elif action == "clear_invalid":
            services.phone_clear_invalid(phone=patient.phone, actor=request.user)
            flash.success(request, "The number will be tried again.")
        else:
            flash.error(request, "Unknown action.")
    except MessagingError as exc:
        details = " ".join(m for msgs in exc.fields.values() for m in msgs)
        flash.error(request, f"{exc.message} {details}".strip())
    return redirect("messaging-patient", public_id=patient.public_id)


# --- Templates --------------------------------------------------------------------------------


@require_permission(Perm.REPLY_MESSAGES)
def template_list(request):
    overrides = selectors.templates_by_key()
    rows = []
    for kind in TEMPLATE_KINDS:
        for language in ("en", "es"):
            template = overrides.get((kind, language))
            body = template.body if template else DEFAULT_TEMPLATES[(kind, language)]
            rows.append(
                {
                    "kind": kind,
                    "kind_label": MessageKind(kind).label,
                    "language": language,
                    "body": body,
                    "custom": template is not None,
                    "automated": kind in AUTOMATED_KINDS,
                }
            )
    return render(request, "messaging/template_list.html", {"rows": rows})


def _template_key_or_404(kind: str, language: str) -> tuple[str, str]:
    if (kind, language) not in DEFAULT_TEMPLATES:
        raise Http404("No such template.")
    return kind, language


def _preview(kind: str, language: str, body: str) -> dict:
    check = selectors.template_check(kind=kind, language=language, body=body)
    sample = ""
    if check.ok:
        pharmacy = Pharmacy.objects.filter(is_active=True).order_by("name").first()
        sample = rules.render(
            body,
            {
                "first_name": "Ana",
                "pharmacy_name": rules.clip(pharmacy.name if pharmacy else "", 30),
                "pharmacy_phone": rules.format_phone(pharmacy.phone if pharmacy else ""),
                "anchor_date": rules.format_date(timezone.localdate(), language),
                "pickup_by": rules.format_date(timezone.localdate(), language),
                "reply_options": rules.REPLY_OPTIONS[language],
            },
        )
    encoding, segments = rules.segments(check.longest_render or body)
    return {
        "check": check,
        "sample": sample,
        "encoding": encoding,
        "segment_count": segments,
        "limit": rules.SMS_MAX_CHARS,
    }


@require_permission(Perm.REPLY_MESSAGES)
def template_edit(request, kind, language):
    kind, language = _template_key_or_404(kind, language)
    can_edit = role_allows(request.membership.role, Perm.MANAGE_PHARMACIES)
    body = selectors.template_body(kind, language)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only owners change templates.")
        form = TemplateForm(request.POST)
        form.is_valid()  # both fields optional: the service checks the wording
        if form.cleaned_data.get("reset"):
            services.template_reset(kind=kind, language=language, actor=request.user)
            flash.success(request, "Back to the built-in wording.")
            return redirect("messaging-template-edit", kind=kind, language=language)
        body = form.cleaned_data.get("body", "")
        try:
            services.template_save(kind=kind, language=language, body=body, actor=request.user)
            flash.success(request, "Template saved.")
            return redirect("messaging-templates")
        except MessagingError:
            pass  # the preview below shows each problem
    return render(
        request,
        "messaging/template_edit.html",
        {
            "kind": kind,
            "kind_label": MessageKind(kind).label,
            "language": language,
            "body": body,
            "variables": rules.ALLOWED_VARIABLES,
            "automated": kind in AUTOMATED_KINDS,
            "can_edit": can_edit,
            **_preview(kind, language, body),
        },
    )


@require_permission(Perm.REPLY_MESSAGES)
@require_POST
def template_preview(request, kind, language):
    kind, language = _template_key_or_404(kind, language)
    form = TemplateForm(request.POST)
    form.is_valid()
    return render(
        request,
        "messaging/_template_preview.html",
        _preview(kind, language, form.cleaned_data.get("body", "")),
    )
