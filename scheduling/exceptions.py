"""The sync engine's one error type: a code, a message for people, optional field errors."""

from medsync.exceptions import MedSyncError


class SchedulingError(MedSyncError):
    """A request the sync engine refuses, with a message the pharmacist can act on."""

    code = "scheduling_error"
    http_status = 400


class NotFoundInTenant(SchedulingError):
    """A patient, prescription or cycle that is not in the active organization: a 404."""

    code = "not_found"
    http_status = 404


class StaleItem(SchedulingError):
    """Someone changed the fill after the page showed it: this change was not applied (409)."""

    code = "stale"
    http_status = 409
