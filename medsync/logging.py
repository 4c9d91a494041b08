import logging

from medsync.request_context import current_request_id


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or '-') to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True
