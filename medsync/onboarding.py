"""The first-run checklist and the pharmacy settings plug points the apps fill in.

medsync may not import the apps, so the steps it cannot judge itself (records imported, a
first enrollment) and the actions it cannot take (a test text) are registered by the apps in
their `AppConfig.ready()`:

- a checklist step is `(request) -> dict | None` with "title", "done" (bool), "url" and
  "hint" (what to do next);
- a settings section is `(request, pharmacy) -> dict | None` with "title", "lines" and "url"
  (a page of the app that owns those settings, e.g. sync timing);
- the test-text sender is `(pharmacy, to, actor) -> str`: it sends one text through the
  pharmacy's gateway and returns the provider id, or raises ValidationError naming `to`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

from medsync.models import Membership, Pharmacy
from medsync.registry import Registry
from medsync.roles import Perm, role_allows

first_run_steps = Registry()
pharmacy_settings_sections = Registry()
_test_text_sender: list[Callable] = []

TEST_TEXT_ACTION = "medsync.pharmacy.test_text_sent"


def register_first_run_step(name: str, render: Callable, *, order: int = 50) -> None:
    first_run_steps.register(name, render, order=order)


def register_pharmacy_settings_section(name: str, render: Callable, *, order: int = 50) -> None:
    pharmacy_settings_sections.register(name, render, order=order)


def register_test_text_sender(send: Callable) -> None:
    _test_text_sender[:] = [send]


def test_text_sender() -> Callable | None:
    return _test_text_sender[0] if _test_text_sender else None


def _pharmacy_details_step(request) -> dict:
    incomplete = [p for p in Pharmacy.objects.filter(is_active=True) if p.missing_for_operation]
    first = incomplete[0] if incomplete else Pharmacy.objects.filter(is_active=True).first()
    url = reverse("pharmacy-settings", args=[first.public_id]) if first else ""
    missing = incomplete[0].missing_for_operation if incomplete else []
    return {
        "title": "Pharmacy details",
        "done": not incomplete,
        "url": url,
        "hint": f"{first.name} still needs: {', '.join(missing)}." if incomplete else "",
    }


def _texting_step(request) -> dict:
    from medsync.models import AuditEvent

    pharmacy = Pharmacy.objects.filter(is_active=True, sms_number="").first()
    sent = AuditEvent.objects.filter(action=TEST_TEXT_ACTION).exists()
    target = pharmacy or Pharmacy.objects.filter(is_active=True).first()
    if pharmacy is not None:
        hint = f"Give {pharmacy.name} the number patients text, then send yourself a test text."
    else:
        hint = "" if sent else "Send yourself a test text from a pharmacy's settings."
    return {
        "title": "Texting",
        "done": pharmacy is None and sent,
        "url": reverse("pharmacy-settings", args=[target.public_id]) + "#texting" if target else "",
        "hint": hint,
    }


def _team_step(request) -> dict:
    return {
        "title": "Team",
        "done": Membership.objects.count() > 1,
        "url": reverse("team"),
        "hint": "Invite your pharmacists and technicians.",
    }


first_run_steps.register("pharmacy", _pharmacy_details_step, order=10)
first_run_steps.register("texting", _texting_step, order=20)
first_run_steps.register("team", _team_step, order=30)


def checklist_for(request) -> list[dict]:
    """The first-run steps for the member's organization (owners only; [] for others)."""
    membership = getattr(request, "membership", None)
    if membership is None or not role_allows(membership.role, Perm.MANAGE_PHARMACIES):
        return []
    return first_run_steps.render_all(request)
