"""The pharmacist's dashboard: every number equals the rows behind its link, for the whole
organization, one pharmacy, a member limited to one pharmacy, and never another tenant."""

from __future__ import annotations

import re

import pytest
import time_machine

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from reports.dashboard_today import METRICS
from tests.reports.scenario import NOW, build_program, limited_pharmacist

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(maple, birch):
    return build_program(maple, birch)


def numbers(html: str) -> dict[str, int]:
    found = dict(re.findall(r'data-testid="today-([a-z_]+)">(\d+)<', html))
    return {key: int(value) for key, value in found.items()}


def rows_behind(client, key: str, query: str = "") -> int:
    html = client.get(f"/today/{key}/{query}").content.decode()
    total = int(re.search(r'data-testid="list-total">(\d+)<', html).group(1))
    assert html.count('data-testid="list-row"') == min(total, 25)
    return total


def assert_numbers_match_lists(client, query: str = "") -> dict[str, int]:
    with time_machine.travel(NOW, tick=False):
        shown = numbers(client.get(f"/today/{query}").content.decode())
        assert set(shown) == {m.key for m in METRICS}
        for key, value in shown.items():
            assert rows_behind(client, key, query) == value, key
    return shown


def test_each_number_equals_the_rows_behind_its_link(client, maple, program, login):
    login(maple.pharmacist)
    shown = assert_numbers_match_lists(client)
    assert shown["anchors_today"] == 1
    assert shown["anchors_week"] == 3  # 3/2 and 3/4 at Main St, 3/6 at Elm Ave
    assert (shown["flagged"], shown["rejects"], shown["to_verify"]) == (1, 1, 1)
    assert (shown["unread"], shown["follow_ups"], shown["renewals"]) == (1, 1, 1)
    assert shown["prep_due"] == 1


def test_one_pharmacy_in_view_counts_only_its_rows(client, maple, program, login):
    login(maple.pharmacist)
    main_st, elm_ave = maple.pharmacies
    shown = assert_numbers_match_lists(client, f"?pharmacy={elm_ave.public_id}")
    assert shown["anchors_week"] == 1 and shown["flagged"] == 0 and shown["unread"] == 0
    shown = assert_numbers_match_lists(client, f"?pharmacy={main_st.public_id}")
    assert shown["anchors_week"] == 2 and shown["flagged"] == 1


def test_a_member_limited_to_one_pharmacy_sees_only_its_figures(client, maple, program, login):
    login(limited_pharmacist(maple, maple.pharmacies[1]))
    shown = assert_numbers_match_lists(client)
    assert shown["anchors_week"] == 1 and shown["flagged"] == 0 and shown["follow_ups"] == 0
    with time_machine.travel(NOW, tick=False):
        hidden = client.get(f"/today/?pharmacy={maple.pharmacies[0].public_id}")
    assert hidden.status_code == 404


def test_birch_never_sees_maples_rows(client, maple, birch, program, login):
    login(birch.pharmacist)
    shown = assert_numbers_match_lists(client)
    assert shown["anchors_week"] == 1 and shown["flagged"] == 3 and shown["rejects"] == 0
    assert shown["unread"] == 0 and shown["follow_ups"] == 0
    with time_machine.travel(NOW, tick=False):
        assert client.get(f"/today/?pharmacy={maple.pharmacies[0].public_id}").status_code == 404
        assert client.get("/today/nonsense/").status_code == 404
        assert client.get("/today/?pharmacy=not-a-uuid").status_code == 404


def test_the_dashboard_shows_the_today_section_and_the_month_calendar(
    client, maple, program, login
):
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/dashboard/").content.decode()
    assert 'data-section="today"' in html and 'data-testid="anchor-calendar"' in html
    assert numbers(html)["anchors_week"] == 3
    # 3/4: one patient at Main St with two fills; 3/6 at Elm Ave.
    assert 'data-day="2026-03-04" data-patients="1" data-fills="2"' in html
    assert 'data-day="2026-03-06" data-patients="1" data-fills="2"' in html


def test_the_calendar_projects_later_anchors_and_shows_capacity_and_closed_days(
    client, maple, program, login, in_tenant
):
    from scheduling.models import SyncSettings

    main_st, _ = maple.pharmacies
    with in_tenant(maple.organization):
        SyncSettings.objects.create(pharmacy=main_st, daily_anchor_capacity=4, closed_weekdays=[6])
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        html = client.get(f"/today/?pharmacy={main_st.public_id}&month=2026-04").content.decode()
    # Cycles of 30 days: the 3/4 anchor comes back on 4/3, the 3/12 one on 4/11.
    assert 'data-day="2026-04-03" data-patients="1" data-fills="2"' in html
    assert 'data-day="2026-04-11" data-patients="1" data-fills="2"' in html
    assert "1 patient / 4" in html
    assert html.count("<small>Closed</small>") >= 4  # Sundays


def test_the_pages_cost_a_fixed_number_of_queries(
    client, maple, program, login, django_assert_max_num_queries
):
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        with django_assert_max_num_queries(14):
            assert client.get("/today/").status_code == 200
        with django_assert_max_num_queries(14):
            assert client.get("/today/anchors_week/").status_code == 200
        with django_assert_max_num_queries(14):
            assert client.get("/today/rts_soon/").status_code == 200


def test_the_lists_audit_the_patients_they_show(client, maple, program, login):
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        client.get("/today/anchors_week/")
    with tenant_scope(maple.organization):
        viewed = AuditEvent.objects.filter(
            action="patients.patient.viewed", metadata__via="reports.today.anchors_week"
        )
        assert viewed.count() == 3


def test_a_technician_cannot_open_the_dashboard_lists(client, maple, program, login):
    login(maple.technician)
    assert client.get("/today/").status_code == 403
    assert client.get("/today/anchors_week/").status_code == 403
