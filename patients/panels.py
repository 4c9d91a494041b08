"""Sections that higher apps add to the patient record page.

patients/ may not import scheduling, messaging or reports; they register a panel here in
their AppConfig.ready() instead. A panel is a function (request, patient) -> dict | None
returning {"title", "template", "context"}; None hides it.
"""

from __future__ import annotations

from collections.abc import Callable

from medsync.registry import Registry

patient_panels = Registry()


def register_patient_panel(name: str, render: Callable, *, order: int = 50) -> None:
    patient_panels.register(name, render, order=order)


def panels_for(request, patient) -> list[dict]:
    return patient_panels.render_all(request, patient)
