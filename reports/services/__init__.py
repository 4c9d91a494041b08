"""Writes of the reports app: its own cached results only (one topic file each)."""

from reports.services.adherence import (
    outcomes_refresh,
    outcomes_refresh_request,
)

__all__ = ["outcomes_refresh", "outcomes_refresh_request"]
