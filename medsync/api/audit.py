"""Access auditing of API lists: one audit event per record shown, in one bulk INSERT.

A list of patient records is a read of each patient on the page (HIPAA access log), so each
gets its own event, written with `audit_record_many` in one statement whatever the page size.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from rest_framework.response import Response

from medsync.api.rows import RowShape
from medsync.services import AuditEntry, audit_record_many

# A target read from a values() row, without its model object: (object_type, public id).
RowTarget = tuple[str, object]


def audit_page(
    request,
    *,
    action: str,
    targets: Iterable[models.Model | RowTarget | None],
    metadata: dict | None = None,
) -> int:
    """One event per distinct target (an event without one for an empty page)."""
    distinct: dict[tuple, AuditEntry] = {}
    for target in targets:
        if target is None:
            continue
        if isinstance(target, tuple):
            object_type, object_id = target
            distinct[target] = AuditEntry(
                action, object_type=object_type, object_id=str(object_id), metadata=metadata
            )
        else:
            distinct[(type(target), target.pk)] = AuditEntry(
                action, target=target, metadata=metadata
            )
    entries = list(distinct.values())
    return audit_record_many(entries or [AuditEntry(action, metadata=metadata)], actor=request.user)


class AuditedListMixin:
    """`list` that serializes one page and audits what it showed (`audit_targets(rows)`)."""

    # (The docstring above is the OpenAPI description of views without their own: keep it.)
    # With `list_shape` set, the page is read as values() rows and rendered by the shape (the
    # serializer's own output, without a model object per row): `audit_targets` and
    # `list_rows_extend` then get dicts holding the shape's columns and `list_row_columns`.
    list_audit_action = ""
    list_shape: RowShape | None = None
    list_row_columns: tuple[str, ...] = ()

    def audit_targets(self, rows: list) -> Iterable[models.Model | RowTarget]:
        raise NotImplementedError

    def list_rows_extend(self, rows: list[dict]) -> None:
        """Adds to the page's rows what a computed field reads beyond them (e.g. children)."""

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        shape = self.list_shape
        if shape is not None:
            queryset = shape.values(queryset, *self.list_row_columns)
        page = self.paginate_queryset(queryset)
        rows = list(page) if page is not None else list(queryset)
        if shape is not None:
            self.list_rows_extend(rows)
            data = shape.many(rows)
        else:
            data = self.get_serializer(rows, many=True).data
        response = self.get_paginated_response(data) if page is not None else Response(data)
        audit_page(
            request,
            action=self.list_audit_action,
            targets=self.audit_targets(rows),
            metadata={"via": "api", "filters": sorted(request.query_params)},
        )
        return response
