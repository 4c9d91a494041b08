"""Cards on the pharmacist's dashboard, contributed by the apps.

medsync may not import the apps, so each app registers a card in its AppConfig.ready().
A card is a function (request) -> dict | None with "title", "lines" (list of
{"label", "value", "url"}) and optionally "action" {"label", "url"}; None hides it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    name: str
    order: int
    render: Callable


_CARDS: dict[str, Card] = {}


def register_dashboard_card(name: str, render: Callable, *, order: int = 50) -> None:
    _CARDS[name] = Card(name, order, render)


def cards_for(request) -> list[dict]:
    rendered = []
    for card in sorted(_CARDS.values(), key=lambda c: (c.order, c.name)):
        content = card.render(request)
        if content:
            rendered.append({"name": card.name, **content})
    return rendered
