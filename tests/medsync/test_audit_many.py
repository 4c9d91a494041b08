"""audit_record_many writes its events in one INSERT (no model object per event) with the
same fields as audit_record: the API lists audit every patient they show with it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from medsync import request_context
from medsync.models import AuditEvent
from medsync.services import AuditEntry, audit_record, audit_record_many
from medsync.tenancy import tenant_scope

pytestmark = pytest.mark.django_db

FIELDS = ("organization_id", "actor_id", "action", "object_type", "object_id", "ip_address")


def _fields(event: AuditEvent) -> tuple:
    return (*(getattr(event, name) for name in FIELDS), event.request_id, event.metadata)


@pytest.mark.parametrize("client_ip", ["10.1.2.3", "2001:db8::7", None])
def test_the_events_hold_what_audit_record_writes(maple, client_ip):
    pharmacy = maple.pharmacies[0]
    metadata = {"via": "api", "filters": ["page_size"], "n": 2}
    ip_token = request_context.set_client_ip(client_ip)
    id_token = request_context.set_request_id("req-many-1")
    try:
        with tenant_scope(maple.organization):
            one = audit_record(
                action="tests.thing.listed",
                actor=maple.pharmacist,
                target=pharmacy,
                metadata=metadata,
            )
            with CaptureQueriesContext(connection) as captured:
                written = audit_record_many(
                    [
                        AuditEntry("tests.thing.listed", target=pharmacy, metadata=metadata),
                        AuditEntry("tests.other.listed", object_type="x.y", object_id="42"),
                    ],
                    actor=maple.pharmacist,
                )
    finally:
        request_context.reset_request_id(id_token)
        request_context.reset_client_ip(ip_token)
    inserts = [q for q in captured.captured_queries if "INSERT" in q["sql"]]
    assert written == 2 and len(inserts) == 1
    with scopes_disabled():
        first, second = AuditEvent.objects.exclude(pk=one.pk).order_by("id")
    with scopes_disabled():
        one = AuditEvent.objects.get(pk=one.pk)  # as read back (the inet column normalized)
    assert _fields(first) == _fields(one)
    assert (second.object_type, second.object_id, second.metadata) == ("x.y", "42", {})
    assert second.organization_id == maple.organization.pk
    assert len({one.public_id, first.public_id, second.public_id}) == 3
    assert first.occurred_at == second.occurred_at


def test_batches_and_an_empty_list(maple):
    with tenant_scope(maple.organization):
        entries = [AuditEntry("tests.thing.listed", object_id=str(n)) for n in range(5)]
        with CaptureQueriesContext(connection) as captured:
            assert audit_record_many(entries, batch_size=2) == 5
            assert audit_record_many([]) == 0
    assert sum("INSERT" in q["sql"] for q in captured.captured_queries) == 3
    with scopes_disabled():
        ids = sorted(AuditEvent.objects.values_list("object_id", flat=True))
    assert ids == ["0", "1", "2", "3", "4"]


def test_an_event_outside_the_tenant_scope_is_written_in_its_organization(maple):
    """As audit_record: the row's organization is entered for row-level security."""
    written = audit_record_many(
        [AuditEntry("tests.thing.listed", object_id="1")], organization=maple.organization
    )
    assert written == 1
    with scopes_disabled():
        event = AuditEvent.objects.get(action="tests.thing.listed")
    assert event.organization_id == maple.organization.pk
