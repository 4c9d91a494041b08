"""The messaging app's one error type (mapped to the API's one error shape)."""

from medsync.exceptions import MedSyncError

HTTP_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "conflict": 409,
    "opted_out": 409,
    "invalid_number": 409,
    "no_consent": 409,
    "quiet_hours": 409,
    "patient_inactive": 409,
    "no_sender": 409,
    "no_phone": 409,
}


class MessagingError(MedSyncError):
    """A refusal with a code people and programs can act on."""

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message, code=code, fields=fields)
        self.http_status = HTTP_STATUS.get(self.code, 400)
