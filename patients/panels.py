"""Sections that higher apps add to the patient record page.

patients/ may not import scheduling, messaging or reports; they register a panel here in
their AppConfig.ready() instead. A panel is a function (request, patient) -> dict | None
returning {"title", "template", "context"}; None hides it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    name: str
    order: int
    render: Callable


_PANELS: dict[str, Panel] = {}


def register_patient_panel(name: str, render: Callable, *, order: int = 50) -> None:
    _PANELS[name] = Panel(name, order, render)


def panels_for(request, patient) -> list[dict]:
    rendered = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.name)):
        section = panel.render(request, patient)
        if section:
            rendered.append({"name": panel.name, **section})
    return rendered
