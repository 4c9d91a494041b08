"""Issue 10 defect 8 on the wizard page: a preferred weekday the cycle cannot keep is shown with
the anchors it drifts to, and "Use 28 days" asks for the anchors again on a 28-day cycle."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.scheduling.conftest import make_patient

pytestmark = pytest.mark.django_db


def test_the_wizard_shows_the_weekday_drift_and_offers_28_days(client, login, maple):
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC), tick=False):
        pharmacy = maple.pharmacies[0]
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 3)])
        ids = [str(rx.public_id) for rx in synced.prescriptions]
        login(maple.pharmacist)
        url = f"/sync/enroll/{synced.patient.public_id}/"
        form = {"prescriptions": ids, "cycle_days": "30", "preferred_weekday": "1"}
        page = client.post(url, {**form, "step": "anchors"}).content.decode()
        # The best anchor is Tue 3/3 (due that day, the preferred weekday); every 30 days after
        # it: Thu 4/2, Sat 5/2, Mon 6/1, Wed 7/1, Fri 7/31, Sun 8/30.
        assert 'data-testid="weekday-drift"' in page
        assert "Thu 4/2, Sat 5/2, Mon 6/1, Wed 7/1, Fri 7/31, Sun 8/30" in page
        assert 'name="use_cycle_days" value="28"' in page
        again = client.post(url, {**form, "use_cycle_days": "28"}).content.decode()
        assert 'data-testid="weekday-drift"' not in again
        assert '<option value="28" selected>' in again
        assert 'name="anchor_date"' in again  # the anchors step, on a 28-day cycle
