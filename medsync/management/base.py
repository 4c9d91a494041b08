"""Base for management commands that work inside one organization (`--org SLUG`)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from medsync.models import Organization
from medsync.tenancy import tenant_scope


class TenantCommand(BaseCommand):
    """Subclasses implement handle_in_tenant(organization, **options)."""

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"], is_active=True).first()
        if organization is None:
            raise CommandError(f"No active organization with the slug {options['org']!r}.")
        with tenant_scope(organization):
            return self.handle_in_tenant(organization, *args, **options)

    def handle_in_tenant(self, organization: Organization, *args, **options):
        raise NotImplementedError


def bench_factories():
    """`tests.factories`, with which every benchmark builds its rows (one definition of a
    patient, a prescription, a fill for tests and benchmarks alike)."""
    try:
        import tests.factories as factories
    except ImportError as exc:  # a deployment image without tests/ or the dev packages
        raise CommandError(
            "Benchmarks build their rows with tests/factories (factory_boy): run them from a "
            "checkout after `make install`."
        ) from exc
    return factories
