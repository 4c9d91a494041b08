"""What an import reports: the input file, each rejected row and the counts per file.

Plain dataclasses, no ORM: the services store them on the batch, the command prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ProgressCallback = Callable[[str, int, int], None]  # (filename, rows done, rows total)


class RowRejected(Exception):
    """A row that cannot be imported; the message says why, for a person to fix."""


@dataclass
class RowProblem:
    """One rejected (or warned about) row of a file, by its line number in the CSV."""

    line: int
    reason: str

    def as_dict(self) -> dict:
        """The JSON shape stored on the batch and shown by the API: {line, reason}."""
        return {"line": self.line, "reason": self.reason}


@dataclass
class FileResult:
    """What a file did (or would do in a preview): counts, rejected rows and warnings."""

    filename: str
    kind: str
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """How many rows were refused (each is in `errors`)."""
        return len(self.errors)


@dataclass
class ImportFileInput:
    """One uploaded CSV file; `kind` is read from its header when left empty."""

    filename: str
    text: str
    kind: str = ""
