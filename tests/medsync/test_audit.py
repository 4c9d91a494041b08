import pytest
from django.db import DatabaseError, connection, transaction
from django_scopes import scopes_disabled

from medsync.admin import AuditEventAdmin
from medsync.models import AuditEvent
from medsync.services import audit_record
from medsync.tenancy import tenant_scope


@pytest.mark.django_db
def test_audit_record_takes_the_tenant_from_scope(maple):
    with tenant_scope(maple.organization):
        event = audit_record(
            action="tests.thing.viewed", actor=maple.pharmacist, target=maple.pharmacies[0]
        )
    assert event.organization == maple.organization
    assert event.object_type == "medsync.pharmacy"
    assert event.object_id == str(maple.pharmacies[0].public_id)


@pytest.mark.django_db
def test_a_request_id_from_the_proxy_is_kept_in_the_audit_entry(client, maple):
    from tests.factories import TEST_PASSWORD

    response = client.post(
        "/accounts/login/",
        {"username": maple.owner.email, "password": TEST_PASSWORD},
        HTTP_X_REQUEST_ID="req-abc-12345",
    )
    assert response["X-Request-ID"] == "req-abc-12345"
    with scopes_disabled():
        event = AuditEvent.objects.get(action="medsync.user.logged_in")
    assert event.request_id == "req-abc-12345"


@pytest.mark.django_db
def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(maple):
    with tenant_scope(maple.organization):
        event = audit_record(action="tests.thing.viewed")
        event.action = "tests.thing.forged"
        with pytest.raises(PermissionError):
            event.save()
        with pytest.raises(PermissionError):
            event.delete()
        with pytest.raises(PermissionError):
            AuditEvent.objects.filter(pk=event.pk).update(action="x")
        with pytest.raises(PermissionError):
            AuditEvent.objects.filter(pk=event.pk).delete()
        assert AuditEvent.objects.get(pk=event.pk).action == "tests.thing.viewed"


@pytest.mark.django_db
def test_the_database_itself_refuses_update_and_delete(maple):
    with tenant_scope(maple.organization):
        event = audit_record(action="tests.thing.viewed")
    for sql in [
        "UPDATE medsync_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM medsync_auditevent WHERE id = %s",
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    with scopes_disabled():
        assert AuditEvent.objects.get(pk=event.pk).action == "tests.thing.viewed"


@pytest.mark.django_db
def test_the_admin_shows_audit_events_read_only(admin_client, maple, rf):
    with tenant_scope(maple.organization):
        event = audit_record(action="tests.thing.viewed")
    listing = admin_client.get("/admin/medsync/auditevent/")
    assert listing.status_code == 200 and "tests.thing.viewed" in listing.content.decode()
    assert admin_client.get("/admin/medsync/auditevent/add/").status_code == 403
    change = admin_client.post(
        f"/admin/medsync/auditevent/{event.pk}/change/", {"action": "forged"}
    )
    assert change.status_code == 403
    delete = admin_client.post(f"/admin/medsync/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    model_admin = AuditEventAdmin(AuditEvent, None)
    request = rf.get("/")
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_delete_permission(request, event)


@pytest.mark.django_db
def test_non_staff_members_cannot_use_the_admin(client, maple, login):
    login(maple.owner)
    response = client.get("/admin/medsync/auditevent/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
