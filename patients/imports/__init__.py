"""CSV imports from the pharmacy management system: patients, coverage, prescriptions, fills.

`run_import` (in run.py) is the one code path; the column layouts are in columns.py, the field
parsers in parsers.py / identifiers.py and one importer per kind of file beside them. This
module only re-exports the names callers use.
"""

from patients.imports.columns import COLUMNS, KIND_ORDER, detect_kind, file_kind
from patients.imports.results import (
    FileResult,
    ImportFileInput,
    ProgressCallback,
    RowProblem,
    RowRejected,
)
from patients.imports.run import IMPORTERS, run_import
from patients.models import ExclusionReason

__all__ = [
    "COLUMNS",
    "IMPORTERS",
    "KIND_ORDER",
    "ExclusionReason",
    "FileResult",
    "ImportFileInput",
    "ProgressCallback",
    "RowProblem",
    "RowRejected",
    "detect_kind",
    "file_kind",
    "run_import",
]
