"""The outcome refresh on the app role (row-level security on, as in production): its rows go
in (INSERT, not COPY, which RLS refuses), and another tenant's connection reads none of them."""

from __future__ import annotations

from medsync.tenancy import tenant_scope
from reports.models import PdcOutcome
from reports.tasks import refresh_outcomes
from tests.security.test_rls import _raw_count, as_app_role, seeded  # noqa: F401 - fixtures


def test_the_refresh_runs_on_the_app_role(as_app_role):  # noqa: F811
    maple = as_app_role["organizations"]["maple"]
    birch = as_app_role["organizations"]["birch"]
    result = refresh_outcomes.apply(kwargs={"organization_id": str(maple.public_id)})
    assert result.successful(), result.result
    with tenant_scope(maple):
        written = PdcOutcome.objects.count()
        assert written == result.result > 0
        assert _raw_count("reports_pdcoutcome") == written
    with tenant_scope(birch):
        assert _raw_count("reports_pdcoutcome") == 0
