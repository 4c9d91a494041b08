"""Access auditing of API lists: one audit event per record shown, in one bulk INSERT.

A list of patient records is a read of each patient on the page (HIPAA access log), so each
gets its own event, written with `audit_record_many` in one statement whatever the page size.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from rest_framework.response import Response

from medsync.services import AuditEntry, audit_record_many


def audit_page(
    request, *, action: str, targets: Iterable[models.Model], metadata: dict | None = None
) -> int:
    """One event per distinct target (an event without one for an empty page)."""
    distinct = {(type(t), t.pk): t for t in targets if t is not None}
    entries = [AuditEntry(action, target=t, metadata=metadata) for t in distinct.values()]
    return audit_record_many(entries or [AuditEntry(action, metadata=metadata)], actor=request.user)


class AuditedListMixin:
    """`list` that serializes one page and audits what it showed (`audit_targets(rows)`)."""

    list_audit_action = ""

    def audit_targets(self, rows: list) -> Iterable[models.Model]:
        raise NotImplementedError

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page) if page is not None else list(queryset)
        data = self.get_serializer(rows, many=True).data
        response = self.get_paginated_response(data) if page is not None else Response(data)
        audit_page(
            request,
            action=self.list_audit_action,
            targets=self.audit_targets(rows),
            metadata={"via": "api", "filters": sorted(request.query_params)},
        )
        return response
