class MedSyncError(Exception):
    """Base of each app's error type: a code, a message for people, optional field errors."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class PlatformError(MedSyncError):
    """Errors of the platform core (medsync/)."""
