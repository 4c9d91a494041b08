"""The organization's own wording of each kind of text: save (validated) and reset."""

from __future__ import annotations

from django.db import transaction

from medsync.models import User
from medsync.services import audit_record
from messaging.defaults import DEFAULT_TEMPLATES
from messaging.exceptions import MessagingError
from messaging.models import MessageTemplate
from messaging.selectors import template_check

__all__ = ["template_reset", "template_save"]


@transaction.atomic
def template_save(*, kind: str, language: str, body: str, actor: User) -> MessageTemplate:
    """Create or replace the organization's wording of one kind of text, validated."""
    if kind not in {k for k, _ in DEFAULT_TEMPLATES}:
        raise MessagingError(
            f"{kind!r} is not a kind of text with a template.",
            code="invalid",
            fields={"kind": ["Choose one of the listed kinds."]},
        )
    if language not in ("en", "es"):
        raise MessagingError(
            "Templates exist in English (en) and Spanish (es).",
            code="invalid",
            fields={"language": ["Use en or es."]},
        )
    body = body.strip()
    check = template_check(kind=kind, language=language, body=body)
    if not check.ok:
        raise MessagingError("The template is not valid.", code="invalid", fields=check.errors)
    template, created = MessageTemplate.objects.update_or_create(
        kind=kind, language=language, defaults={"body": body, "updated_by": actor}
    )
    audit_record(
        action="messaging.template.created" if created else "messaging.template.updated",
        actor=actor,
        target=template,
        metadata={"kind": kind, "language": language, "length": check.longest_length},
    )
    return template


@transaction.atomic
def template_reset(*, kind: str, language: str, actor: User) -> None:
    """Go back to the built-in wording."""
    template = MessageTemplate.objects.filter(kind=kind, language=language).first()
    if template is None:
        return
    audit_record(
        action="messaging.template.reset",
        actor=actor,
        target=template,
        metadata={"kind": kind, "language": language},
    )
    template.delete()
