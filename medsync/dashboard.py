"""Cards on the pharmacist's dashboard, contributed by the apps.

medsync may not import the apps, so each app registers a card in its AppConfig.ready().
A card is a function (request) -> dict | None with "title", "lines" (list of
{"label", "value", "url"}) and optionally "action" {"label", "url"}; None hides it.
A section is a wider block above the cards (reports' "today" numbers and anchor calendar):
a function (request) -> dict | None with "template" and "context".
"""

from __future__ import annotations

from collections.abc import Callable

from medsync.registry import Registry

dashboard_cards = Registry()
dashboard_sections = Registry()


def register_dashboard_card(name: str, render: Callable, *, order: int = 50) -> None:
    dashboard_cards.register(name, render, order=order)


def cards_for(request) -> list[dict]:
    return dashboard_cards.render_all(request)


def register_dashboard_section(name: str, render: Callable, *, order: int = 50) -> None:
    dashboard_sections.register(name, render, order=order)


def sections_for(request) -> list[dict]:
    return dashboard_sections.render_all(request)
