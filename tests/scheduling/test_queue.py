"""The fill queue built for a working day (issue 11, item 5): grouped by patient and cycle in
anchor order, filters and pages, a fixed number of queries at 50 and 500 fills, the NDC
scanned at the fill, the pharmacist's verification, two people changing one fill, and the
version token the page polls."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
import time_machine
from django.db import close_old_connections, connection

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.models import Fill
from patients.services import PATIENT_VIEWED
from scheduling import services, sweeps
from scheduling.exceptions import StaleItem
from scheduling.models import CycleItem, FlagReason, ItemState
from tests.factories import DrugFactory, build_fill_queue
from tests.scheduling.conftest import enroll, make_patient

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # Monday morning in Madison
TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def queue_of(tenant, pharmacy_index=0, *, due=(5, 5)):
    """A patient of the tenant's pharmacy enrolled on Mar 5 with fills in today's queue."""
    pharmacy = tenant.pharmacies[pharmacy_index]
    synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, d) for d in due])
    enroll(pharmacy, synced, anchor=dt.date(2026, 3, 5))
    with tenant_scope(tenant.organization):
        sweeps.cycles_open_prefill()
        return list(
            CycleItem.objects.filter(cycle__patient=synced.patient)
            .select_related("prescription__drug")
            .order_by("pk")
        )


def item_rows(page: str) -> list[str]:
    return re.findall(r'id="item-([0-9a-f-]{36})"', page)


@pytest.mark.django_db
def test_one_row_per_patient_and_cycle_in_anchor_order_with_its_fills(client, login, maple):
    pharmacy = maple.pharmacies[0]
    with tenant_scope(maple.organization):
        items = build_fill_queue(pharmacy, items=12, today=TODAY, per_patient=4)
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/fill-queue/").content.decode()
    assert page.count('data-testid="queue-group"') == 3
    assert len(item_rows(page)) == 12
    anchors = re.findall(r"anchor <strong>(\w{3} \w{3} \d+)</strong>", page)
    assert anchors == ["Tue Mar 3", "Wed Mar 4", "Thu Mar 5"]
    # Each group's fills sit under their patient.
    first = page.index("Queue 0000")
    second = page.index("Queue 0001")
    with tenant_scope(maple.organization):
        first_patient_items = [i for i in items if i.cycle.patient.last_name == "Queue 0000"]
    for item in first_patient_items:
        assert first < page.index(f'id="item-{item.public_id}"') < second
    assert 'data-testid="count-to_fill">12<' in page
    # Every patient shown is audited as viewed, in one bulk write.
    with tenant_scope(maple.organization):
        views = AuditEvent.objects.filter(action=PATIENT_VIEWED, metadata__via="fill_queue")
        assert views.count() == 3


@pytest.mark.django_db
def test_filters_narrow_the_queue_and_a_bad_date_is_a_400_naming_it(client, login, maple, frozen):
    filled, planned = queue_of(maple)
    flagged = queue_of(maple, due=(5,))[0]
    with tenant_scope(maple.organization):
        services.cycle_item_advance(item=filled, actor=maple.pharmacist, action="fill")
        services.cycle_item_advance(
            item=flagged, actor=maple.pharmacist, action="flag", flag_reason="refill_too_soon"
        )
    login(maple.pharmacist)
    to_verify = client.get("/fill-queue/?section=to_verify").content.decode()
    assert item_rows(to_verify) == [str(filled.public_id)]
    attention = client.get("/fill-queue/?attention=1").content.decode()
    assert item_rows(attention) == [str(flagged.public_id)]
    on_the_anchor = client.get("/fill-queue/?anchor=2026-03-05").content.decode()
    assert len(item_rows(on_the_anchor)) == 3
    empty = client.get("/fill-queue/?anchor=2026-03-06").content.decode()
    assert 'data-testid="fill-queue-filtered-empty"' in empty
    bad = client.get("/fill-queue/?anchor=March")
    assert bad.status_code == 400 and bad.content.decode().startswith("anchor:")
    assert client.get("/fill-queue/?section=nonsense").status_code == 400
    assert planned.state == ItemState.PLANNED


@pytest.mark.django_db
def test_the_queue_paginates_by_patient(client, login, maple):
    with tenant_scope(maple.organization):
        build_fill_queue(maple.pharmacies[0], items=15 * 2, today=TODAY, per_patient=2)
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        first = client.get("/fill-queue/").content.decode()
        second = client.get("/fill-queue/?page=2").content.decode()
    assert first.count('data-testid="queue-group"') == 10
    assert second.count('data-testid="queue-group"') == 5
    assert "Page 2 of 2 · 15 patients" in second
    assert not set(item_rows(first)) & set(item_rows(second))


@pytest.mark.django_db
@pytest.mark.parametrize("size", [50, 500])
def test_the_queue_page_costs_a_fixed_number_of_queries(
    client, login, maple, size, django_assert_max_num_queries
):
    with tenant_scope(maple.organization):
        build_fill_queue(maple.pharmacies[0], items=size, today=TODAY)
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        with django_assert_max_num_queries(15):
            page = client.get("/fill-queue/")
        with django_assert_max_num_queries(15):
            client.get("/fill-queue/?section=to_fill&page=2")
        with django_assert_max_num_queries(8):
            client.get("/fill-queue/version/?poll=1")
    assert page.status_code == 200 and 'data-testid="queue-item"' in page.content.decode()


@pytest.mark.django_db
def test_the_fill_takes_the_ndc_scanned_in_any_form_and_refuses_another_product(
    client, login, maple, frozen
):
    item, other = queue_of(maple)
    product = item.prescription.drug
    wrong = DrugFactory(ndc="00093111101", name="Lisinopril", strength="10 mg")
    login(maple.technician)
    url = f"/fill-queue/items/{item.public_id}/fill/"
    refused = client.post(url, {"ndc": "0093-1111-01", "version": 1}, HTTP_HX_REQUEST="true")
    text = refused.content.decode()
    assert refused.status_code == 400
    assert "Lisinopril 10 mg" in text and f"{product.name} {product.strength}" in text
    missing = client.post(url, {"version": 1}, HTTP_HX_REQUEST="true")
    assert missing.status_code == 400 and "Scan the package" in missing.content.decode()
    nonsense = client.post(url, {"ndc": "12-34"}, HTTP_HX_REQUEST="true")
    assert nonsense.status_code == 400 and "Not an NDC" in nonsense.content.decode()
    unknown = client.post(url, {"ndc": "11111-2222-33"}, HTTP_HX_REQUEST="true")
    assert "not in the drug catalog" in unknown.content.decode()
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.PLANNED and item.version == 1
        assert (
            not Fill.objects.filter(prescription=item.prescription)
            .exclude(fill_date__lt=dt.date(2026, 3, 1))
            .exists()
        )
    assert wrong.ndc != product.ndc
    # The product's own NDC in its 5-4-2 billing form is taken; the row keeps what was scanned.
    ndc = product.ndc
    done = client.post(
        url, {"ndc": f"{ndc[:5]}-{ndc[5:9]}-{ndc[9:]}", "version": 1}, HTTP_HX_REQUEST="true"
    )
    assert done.status_code == 200 and f"NDC {ndc} scanned" in done.content.decode()
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.FILLED and item.ndc_scanned == ndc
        assert item.version == 2
        assert AuditEvent.objects.get(action="scheduling.cycle_item.fill").metadata["ndc"] == ndc
    assert other.state == ItemState.PLANNED


@pytest.mark.django_db
def test_only_a_pharmacist_sees_and_posts_verify(client, login, maple, frozen):
    item, _ = queue_of(maple)
    with tenant_scope(maple.organization):
        services.cycle_item_advance(item=item, actor=maple.pharmacist, action="fill")
    login(maple.technician)
    page = client.get("/fill-queue/").content.decode()
    assert "Pharmacist to verify" in page and "Verify <kbd>V</kbd>" not in page
    url = f"/fill-queue/items/{item.public_id}/verify/"
    assert client.post(url, {"version": 2}).status_code == 403
    assert client.post(url, {"version": 2}, HTTP_HX_REQUEST="true").status_code == 403
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.FILLED
    client.logout()
    login(maple.pharmacist)
    assert "Verify <kbd>V</kbd>" in client.get("/fill-queue/").content.decode()
    assert client.post(url, {"version": 2}, HTTP_HX_REQUEST="true").status_code == 200
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.READY


@pytest.mark.django_db
def test_two_people_change_one_fill_one_wins_the_other_is_told(client, login, maple, frozen):
    item, _ = queue_of(maple)
    ndc = item.prescription.drug.ndc
    # Both pages showed version 1. The pharmacist fills first.
    login(maple.pharmacist)
    first = client.post(
        f"/fill-queue/items/{item.public_id}/fill/",
        {"ndc": ndc, "version": 1},
        HTTP_HX_REQUEST="true",
    )
    assert first.status_code == 200
    client.logout()
    login(maple.technician)
    late = client.post(
        f"/fill-queue/items/{item.public_id}/flag/",
        {"flag_reason": "out_of_stock", "version": 1},
        HTTP_HX_REQUEST="true",
    )
    text = late.content.decode()
    assert late.status_code == 409
    assert f"{maple.pharmacist} changed this fill first" in text
    assert "Your flag was not applied" in text and "Filled, to verify" in text
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.FILLED and item.flag_reason == "" and item.version == 2
        assert not AuditEvent.objects.filter(action="scheduling.cycle_item.flag").exists()
    # Without htmx: back to the queue with the message.
    again = client.post(
        f"/fill-queue/items/{item.public_id}/flag/",
        {"flag_reason": "out_of_stock", "version": 1},
        follow=True,
    )
    assert "changed this fill first" in again.content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_real_connections_racing_on_one_fill_end_in_one_state(maple):
    """Two sessions post a change to the same fill at the same moment, each from version 1:
    the row lock lets one in, the other sees version 2 and is refused."""
    with time_machine.travel(NOW, tick=False):
        item, _ = queue_of(maple)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(name, actor, action, **kwargs):
        try:
            with time_machine.travel(NOW, tick=False), tenant_scope(maple.organization):
                barrier.wait(timeout=10)
                services.cycle_item_advance(
                    item=item, actor=actor, action=action, expected_version=1, **kwargs
                )
                outcomes[name] = "won"
        except StaleItem as exc:
            outcomes[name] = exc.message
        finally:
            close_old_connections()
            connection.close()

    threads = [
        threading.Thread(
            target=attempt,
            args=("fill", maple.pharmacist, "fill"),
            kwargs={"ndc": item.prescription.drug.ndc},
        ),
        threading.Thread(
            target=attempt,
            args=("flag", maple.technician, "flag"),
            kwargs={"flag_reason": FlagReason.OUT_OF_STOCK},
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["fill", "flag"]
    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1
    loser = "flag" if winners == ["fill"] else "fill"
    assert "changed this fill first" in outcomes[loser]
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.version == 2
        assert item.state == (ItemState.FILLED if winners == ["fill"] else ItemState.FLAGGED)


@pytest.mark.django_db
def test_the_version_token_tells_the_page_a_colleague_changed_something(
    client, login, maple, birch, frozen
):
    item, _ = queue_of(maple)
    theirs = queue_of(birch, due=(5,))[0]
    login(maple.pharmacist)
    page = client.get("/fill-queue/").content.decode()
    version = re.search(r'data-version="([^"]+)"', page).group(1)
    assert client.get(f"/fill-queue/version/?poll=1&v={version}").status_code == 204
    # Birch's change is not Maple's business: the token does not move.
    with tenant_scope(birch.organization):
        services.cycle_item_advance(
            item=theirs, actor=birch.pharmacist, action="flag", flag_reason="out_of_stock"
        )
    assert client.get(f"/fill-queue/version/?poll=1&v={version}").status_code == 204
    with tenant_scope(maple.organization):
        services.cycle_item_advance(
            item=item, actor=maple.technician, action="flag", flag_reason="out_of_stock"
        )
    changed = client.get(f"/fill-queue/version/?poll=1&v={version}")
    assert changed.status_code == 200 and changed["HX-Trigger"] == "queue-changed"
    body = client.get("/fill-queue/?poll=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-body")
    assert body.content.decode().startswith('<div id="queue-body"')
    assert f'data-version="{changed.content.decode()}"' in body.content.decode()


@pytest.mark.django_db
def test_birch_sees_none_of_maples_queue(client, login, maple, birch, frozen):
    item, _ = queue_of(maple)
    login(birch.pharmacist)
    page = client.get("/fill-queue/").content.decode()
    assert str(item.public_id) not in page and 'data-testid="fill-queue-empty"' in page
    for action in ("bill", "fill", "flag", "verify"):
        response = client.post(f"/fill-queue/items/{item.public_id}/{action}/", {"version": 1})
        assert response.status_code == 404
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.PLANNED and item.version == 1
