"""The reports app's one error type: a message for people and the fields at fault."""

from medsync.exceptions import MedSyncError


class ReportError(MedSyncError):
    """Report input refused (a setting out of range, a bad on-hand file): a 400."""

    code = "report_error"
    http_status = 400
