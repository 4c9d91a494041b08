"""Models of the reports app: its own cached results only (it writes nothing else)."""

from reports.outcome_models import (  # noqa: F401
    OutcomePeriod,
    OutcomeRefresh,
    PdcOutcome,
    PdcSnapshot,
    RefreshStatus,
)
