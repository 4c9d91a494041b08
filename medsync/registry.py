"""Ordered registries that let a higher app contribute to a page a lower app renders.

A lower app may not import a higher one (the table in docs/ARCHITECTURE.md), so the lower
app owns a `Registry` and the higher app adds its entry in `AppConfig.ready()`. Entries are
render functions; one returning None is hidden. Registering a name again replaces it (so
a reloaded app config never shows a section twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    order: int
    render: Callable


class Registry:
    """Named render functions, rendered in (order, name) order."""

    def __init__(self) -> None:
        self._entries: dict[str, RegistryEntry] = {}

    def register(self, name: str, render: Callable, *, order: int = 50) -> None:
        self._entries[name] = RegistryEntry(name, order, render)

    def render_all(self, *args) -> list[dict]:
        """Each entry's dict, with its "name" added; entries that return None are left out."""
        rendered = []
        for entry in self._ordered():
            content = entry.render(*args)
            if content:
                rendered.append({"name": entry.name, **content})
        return rendered

    def _ordered(self) -> list[RegistryEntry]:
        return sorted(self._entries.values(), key=lambda entry: (entry.order, entry.name))
