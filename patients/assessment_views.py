"""The assessment library and builder pages: which assessments the prep call runs, and the
pharmacy's own assessments built question by question (typed questions, required, shown on
a condition of an earlier answer, points and flag rules). Saving changed questions makes a
new version; responses keep theirs."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm, role_allows
from patients.assessment_services import (
    assessment_library_install,
    assessment_template_copy,
    assessment_template_save,
    immunization_schedule_reset,
    immunization_schedule_save,
)
from patients.assessments.definition import KINDS, OPS
from patients.assessments.immunizations import rule_in_words
from patients.clinical_selectors import (
    assessment_templates,
    has_own_immunization_schedule,
    schedule_document,
)

PAGE_SIZE = 25
BLANK_QUESTIONS = 2
BLANK_FLAGS = 1


def _template_or_404(template_id):
    template = assessment_templates(active_only=False).filter(public_id=template_id).first()
    if template is None:
        raise Http404("No such assessment.")
    return template


@require_permission(Perm.VIEW_PATIENTS)
def assessment_list(request):
    assessment_library_install(actor=request.user)
    page = Paginator(assessment_templates(active_only=False), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "patients/assessment_list.html", {"page": page})


@require_POST
@require_permission(Perm.EDIT_PATIENTS)
def assessment_settings(request, template_id):
    """Attach to / detach from the prep call, retire / restore, or copy an assessment."""
    template = _template_or_404(template_id)
    action = request.POST.get("action", "")
    try:
        if action == "copy":
            copy = assessment_template_copy(
                template=template, actor=request.user, name=f"{template.name} (our copy)"[:120]
            )
            messages.success(request, f"Copied: edit “{copy.name}” below.")
            return redirect("assessment-edit", template_id=copy.public_id)
        changes = {
            "attach": {"attach_to_prep": True},
            "detach": {"attach_to_prep": False},
            "retire": {"active": False},
            "restore": {"active": True},
        }.get(action)
        if changes is None:
            raise ValidationError({"action": ["Unknown action."]})
        assessment_template_save(template=template, actor=request.user, **changes)
        messages.success(request, f"{template.name}: saved.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("assessment-list")


def _value(op: str, text: str):
    text = text.strip()
    if op in ("at_least", "at_most"):
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            return text  # the engine names the field
    if op == "answered":
        return text.lower() in ("yes", "true", "1", "")
    if op == "in":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _condition(target: str, op: str, value: str) -> dict:
    if target == "total":
        return {"score": "total", op: _value(op, value)}
    if target.startswith("score:"):
        return {"score": [q for q in target[6:].split(",") if q], op: _value(op, value)}
    return {"question": target, op: _value(op, value)}


def _rows_posted(post, name: str) -> int:
    value = post.get(name, "0")
    return int(value) if value.isdigit() else 0


def _definition_from_post(post) -> dict:
    """The definition the builder's rows describe (blank rows skipped)."""
    questions = []
    for i in range(min(_rows_posted(post, "question_rows"), 60)):
        get = lambda name, i=i: post.get(f"q-{i}-{name}", "").strip()  # noqa: E731
        if not get("id") and not get("text"):
            continue
        question: dict = {
            "id": get("id"),
            "kind": get("kind"),
            "text": get("text"),
            "required": bool(get("required")),
        }
        if question["kind"] == "choice":
            choices = []
            for line in post.get(f"q-{i}-choices", "").splitlines():
                parts = [p.strip() for p in line.split("|")]
                if not parts[0]:
                    continue
                choice = {"value": parts[0], "label": parts[1] if len(parts) > 1 else parts[0]}
                if len(parts) > 2 and parts[2]:
                    choice["score"] = int(parts[2]) if parts[2].lstrip("-").isdigit() else parts[2]
                choices.append(choice)
            question["choices"] = choices
        if question["kind"] == "yes_no" and get("yes_points"):
            points = get("yes_points")
            question["score"] = {"yes": int(points) if points.lstrip("-").isdigit() else points}
        if question["kind"] == "number":
            for bound in ("min", "max"):
                if get(bound):
                    try:
                        question[bound] = float(get(bound))
                    except ValueError:
                        question[bound] = get(bound)
            if get("number_scored"):
                question["score"] = {"value": True}
        if get("if_question") and get("if_op"):
            question["show_if"] = _condition(get("if_question"), get("if_op"), get("if_value"))
        questions.append(question)
    flags = []
    for j in range(min(_rows_posted(post, "flag_rows"), 30)):
        get = lambda name, j=j: post.get(f"f-{j}-{name}", "").strip()  # noqa: E731
        if not get("label"):
            continue
        flags.append(
            {"label": get("label"), "when": _condition(get("target"), get("op"), get("value"))}
        )
    return {"questions": questions, "flags": flags}


def _rows(definition: dict | None, extra_questions: int, extra_flags: int):
    """The builder's rows for a definition, plus blank rows to add more."""
    definition = definition or {"questions": []}
    questions = []
    for q in definition.get("questions", []):
        show_if = q.get("show_if") or {}
        op = next((o for o in OPS if o in show_if), "")
        target = show_if.get("question", "")
        if "score" in show_if:
            score = show_if["score"]
            target = "total" if score == "total" else "score:" + ",".join(score)
        value = show_if.get(op, "")
        questions.append(
            {
                **q,
                "choices_text": "\n".join(
                    "|".join([c["value"], c["label"]] + ([str(c["score"])] if "score" in c else []))
                    for c in q.get("choices", [])
                ),
                "yes_points": (q.get("score") or {}).get("yes", ""),
                "number_scored": (q.get("score") or {}).get("value", False),
                "if_question": target,
                "if_op": op,
                "if_value": ", ".join(value) if isinstance(value, list) else value,
            }
        )
    questions += [{"kind": "yes_no"} for _ in range(extra_questions)]
    flags = []
    for f in definition.get("flags", []):
        when = f.get("when") or {}
        op = next((o for o in OPS if o in when), "")
        target = when.get("question", "")
        if "score" in when:
            target = "total" if when["score"] == "total" else "score:" + ",".join(when["score"])
        value = when.get(op, "")
        flags.append(
            {
                "label": f.get("label", ""),
                "target": target,
                "op": op,
                "value": ", ".join(value) if isinstance(value, list) else value,
            }
        )
    flags += [{} for _ in range(extra_flags)]
    return questions, flags


@require_permission(Perm.EDIT_PATIENTS)
def assessment_builder(request, template_id=None):
    """Build (or change) the pharmacy's own assessment."""
    template = _template_or_404(template_id) if template_id else None
    definition = (
        template.current_version.definition if template and template.current_version else None
    )
    name = template.name if template else ""
    description = template.description if template else ""
    attach = template.attach_to_prep if template else False
    problems: list[str] = []
    status = 200
    if request.method == "POST" and not (template and template.shipped):
        definition = _definition_from_post(request.POST)
        name = request.POST.get("name", "").strip()
        description = request.POST.get("description", "").strip()
        attach = bool(request.POST.get("attach_to_prep"))
        if "more" not in request.POST:
            try:
                saved = assessment_template_save(
                    template=template,
                    actor=request.user,
                    name=name,
                    description=description,
                    definition=definition,
                    attach_to_prep=attach,
                )
            except ValidationError as exc:
                problems, status = exc.messages, 400
            else:
                messages.success(
                    request, f"{saved.name} saved (version {saved.current_version.number})."
                )
                return redirect("assessment-list")
    extra = BLANK_QUESTIONS + (2 if "more" in request.POST else 0)
    questions, flags = _rows(definition, extra, BLANK_FLAGS + (1 if "more" in request.POST else 0))
    return render(
        request,
        "patients/assessment_builder.html",
        {
            "template": template,
            "name": name,
            "description": description,
            "attach": attach,
            "questions": questions,
            "flags": flags,
            "kinds": KINDS,
            "ops": OPS,
            "problems": problems,
        },
        status=status,
    )


@require_permission(Perm.VIEW_PATIENTS)
def immunization_schedule(request):
    """The adult schedule the vaccine screening and offers use: each vaccine's rule in words,
    and the document itself to edit (checked before it is saved) or reset to the shipped one."""
    document = schedule_document()
    text = json.dumps(document, indent=2)
    if request.method == "POST":
        if not role_allows(request.membership.role, Perm.EDIT_PATIENTS):
            raise PermissionDenied
        if request.POST.get("action") == "reset":
            if immunization_schedule_reset(actor=request.user):
                messages.success(request, "The shipped schedule applies again.")
            return redirect("immunization-schedule")
        text = request.POST.get("document", "")
        try:
            immunization_schedule_save(document=json.loads(text), actor=request.user)
        except json.JSONDecodeError as exc:
            messages.error(request, f"Not valid JSON: {exc.msg} (line {exc.lineno}).")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Schedule saved: screening and offers use it now.")
            return redirect("immunization-schedule")
    context = {
        "document": document,
        "text": text,
        "own": has_own_immunization_schedule(),
        "vaccines": [(v, rule_in_words(v)) for v in document.get("vaccines", [])],
    }
    return render(request, "patients/immunization_schedule.html", context)
