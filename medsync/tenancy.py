"""Tenant scope: every tenant-owned query needs an active organization.

Default managers are django-scopes ScopedManagers, so a query on a
tenant-owned model with no tenant entered raises ScopeError (fail closed).
`tenant_scope` is the one way in; the middleware, the API, the Celery task
base and management commands all use it. `scopes_disabled` is allowed only in
named places (the beat fan-out, platform admin, membership lookup at login).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.db import models
from django_scopes import ScopedManager, scope, scopes_disabled  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from medsync.models import Organization

_current_organization: ContextVar[Organization | None] = ContextVar(
    "medsync_current_organization", default=None
)


class TenantMissing(RuntimeError):
    """Code that needs a tenant ran without one."""


@contextmanager
def tenant_scope(organization: Organization) -> Iterator[Organization]:
    """Enter one organization's tenant for the duration of the block."""
    if organization is None or organization.pk is None:
        # django-scopes treats a None value as "no filter": refuse it here.
        raise TenantMissing("tenant_scope needs a saved Organization, got None.")
    token = _current_organization.set(organization)
    try:
        with scope(organization=organization.pk):
            yield organization
    finally:
        _current_organization.reset(token)


def current_organization() -> Organization:
    organization = _current_organization.get()
    if organization is None:
        raise TenantMissing("No tenant is active: enter tenant_scope(organization) first.")
    return organization


def tenant_manager() -> models.Manager:
    return ScopedManager(organization="organization")


class TenantOwnedModel(models.Model):
    """Base of every tenant-owned table: organization_id on each row, UUID public id."""

    organization = models.ForeignKey(
        "medsync.Organization", on_delete=models.CASCADE, related_name="+", editable=False
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    objects = tenant_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.organization_id is None:
            # Writes inject the tenant; a tenant id never comes from a request body.
            self.organization = current_organization()
        elif (active := _current_organization.get()) is not None and (
            active.pk != self.organization_id
        ):
            raise TenantMissing(
                f"Refusing to save a {type(self).__name__} of another organization."
            )
        super().save(*args, **kwargs)
