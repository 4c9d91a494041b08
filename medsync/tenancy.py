"""Tenant scope: every tenant-owned query needs an active organization.

Default managers are django-scopes ScopedManagers, so a query on a
tenant-owned model with no tenant entered raises ScopeError (fail closed).
`tenant_scope` is the one way in; the middleware, the API, the Celery task
base and management commands all use it. `scopes_disabled` is allowed only in
named places (the beat fan-out, platform admin, membership lookup at login).

It also drives the second lock, PostgreSQL row-level security (medsync/rls.py): inside
`tenant_scope` every statement carries the organization as a transaction-local setting,
and a `scopes_disabled` block is the one path to the cross-tenant `platform` connection.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.db import models
from django_scopes import ScopedManager, scope
from django_scopes import scopes_disabled as _django_scopes_disabled

if TYPE_CHECKING:
    from medsync.models import Organization

logger = logging.getLogger("medsync.platform")

_current_organization: ContextVar[Organization | None] = ContextVar(
    "medsync_current_organization", default=None
)
# The name of the escape in force (see scopes_disabled), or None.
_platform_escape: ContextVar[str | None] = ContextVar("medsync_platform_escape", default=None)


class TenantMissing(RuntimeError):
    """Code that needs a tenant ran without one."""


@contextmanager
def tenant_scope(organization: Organization) -> Iterator[Organization]:
    """Enter one organization's tenant for the duration of the block."""
    if organization is None or organization.pk is None:
        # django-scopes treats a None value as "no filter": refuse it here.
        raise TenantMissing("tenant_scope needs a saved Organization, got None.")
    token = _current_organization.set(organization)
    # Tenant work never runs on the cross-tenant connection, even inside an escape.
    escape_token = _platform_escape.set(None)
    try:
        with scope(organization=organization.pk):
            yield organization
    finally:
        _platform_escape.reset(escape_token)
        _current_organization.reset(token)


class scopes_disabled:  # a drop-in for django_scopes.scopes_disabled, hence the name
    """The named cross-tenant escape: scopes off, queries on the platform connection.

    Used only in named places (README "Tenancy fails closed"). Each use is logged once
    with the function that asked for it; while it lasts, medsync.rls.PlatformRouter sends
    queries to the `platform` database alias (a BYPASSRLS role) when one is configured.
    """

    def __init__(self, name: str | None = None):
        if name is None:
            frame = sys._getframe(1)
            name = f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_qualname}"
        self.name = name

    def __enter__(self):
        logger.info("Cross-tenant access: %s", self.name)
        self._token = _platform_escape.set(self.name)
        self._scopes = _django_scopes_disabled()
        self._scopes.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            return self._scopes.__exit__(*exc)
        finally:
            _platform_escape.reset(self._token)


@contextmanager
def row_tenant_scope(organization: Organization | None) -> Iterator[None]:
    """Enter the tenant a row belongs to, unless already in it (None: stay as we are).

    For rows written on behalf of an organization from outside its tenant (an audit event
    of an organization switch, a sign-in): row-level security checks the row against the
    transaction's organization.
    """
    active = _current_organization.get()
    if organization is None or (active is not None and active.pk == organization.pk):
        yield
        return
    with tenant_scope(organization):
        yield


def active_organization() -> Organization | None:
    """The organization of the innermost tenant_scope, or None outside one."""
    return _current_organization.get()


def platform_escape_active() -> bool:
    return _platform_escape.get() is not None


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
