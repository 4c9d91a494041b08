"""Immunization screening against the shipped adult schedule, worked patients."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from patients.assessments import DefinitionError, parse_schedule, vaccines_due

SCHEDULE = parse_schedule(
    json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "patients"
            / "data"
            / "adult_immunization_schedule.json"
        ).read_text()
    )
)
ON = dt.date(2026, 10, 15)


def due(birth, history=(), codes=(), on=ON):
    return {
        (d.key, d.dose)
        for d in vaccines_due(
            SCHEDULE,
            birth_date=birth,
            on_date=on,
            history=list(history),
            condition_codes=list(codes),
        )
    }


def test_a_healthy_30_year_old_with_no_record_needs_flu_and_tdap():
    assert due(dt.date(1996, 5, 1)) == {("influenza", 1), ("tdap", 1)}


def test_a_30_year_old_with_diabetes_also_needs_pneumococcal():
    assert due(dt.date(1996, 5, 1), codes=["E11.9"]) == {
        ("influenza", 1),
        ("tdap", 1),
        ("pneumococcal", 1),
    }


def test_a_55_year_old_up_to_date_except_the_second_zoster_dose():
    history = [
        ("influenza", dt.date(2026, 9, 20)),
        ("td", dt.date(2019, 3, 1)),  # a Td counts for the Tdap/Td booster
        ("pneumococcal", dt.date(2025, 1, 10)),
        ("zoster", dt.date(2026, 7, 1)),
    ]
    assert due(dt.date(1971, 2, 2), history) == {("zoster", 2)}


def test_the_second_zoster_dose_waits_eight_weeks():
    history = [
        ("influenza", dt.date(2026, 9, 1)),
        ("tdap", dt.date(2020, 1, 1)),
        ("pneumococcal", dt.date(2024, 1, 1)),
        ("zoster", dt.date(2026, 9, 1)),
    ]
    assert due(dt.date(1970, 1, 1), history) == set()


def test_a_78_year_old_with_last_seasons_flu_and_an_old_tdap():
    history = [
        ("influenza", dt.date(2025, 10, 1)),  # last season: due again
        ("covid19", dt.date(2026, 9, 5)),  # this season: done
        ("tdap", dt.date(2016, 10, 15)),  # exactly 10 years: due
        ("zoster", dt.date(2020, 1, 1)),
        ("zoster", dt.date(2020, 4, 1)),
        ("pneumococcal", dt.date(2023, 1, 1)),
    ]
    assert due(dt.date(1948, 6, 30), history) == {("influenza", 1), ("tdap", 1), ("rsv", 1)}


def test_a_66_year_old_with_copd_gets_rsv_but_without_a_risk_condition_does_not():
    history = [
        ("influenza", dt.date(2026, 9, 1)),
        ("covid19", dt.date(2026, 9, 1)),
        ("tdap", dt.date(2020, 1, 1)),
        ("zoster", dt.date(2020, 1, 1)),
        ("zoster", dt.date(2020, 5, 1)),
        ("pneumococcal", dt.date(2022, 1, 1)),
    ]
    assert due(dt.date(1960, 1, 1), history, codes=["J44.9"]) == {("rsv", 1)}
    assert due(dt.date(1960, 1, 1), history) == set()


def test_the_season_turns_on_august_first():
    history = [("influenza", dt.date(2026, 3, 1)), ("tdap", dt.date(2020, 1, 1))]
    assert due(dt.date(1990, 1, 1), history, on=dt.date(2026, 7, 31)) == set()
    assert due(dt.date(1990, 1, 1), history, on=dt.date(2026, 8, 1)) == {("influenza", 1)}


def test_a_dose_after_the_screening_day_does_not_count():
    assert ("tdap", 1) in due(dt.date(1990, 1, 1), [("tdap", dt.date(2026, 12, 1))])


def test_a_bad_schedule_names_the_field():
    with pytest.raises(DefinitionError) as caught:
        parse_schedule(
            {"vaccines": [{"key": "flu", "name": "Flu", "rule": "weekly", "min_age": 19}]}
        )
    assert caught.value.field == "vaccines[0].rule"
    with pytest.raises(DefinitionError) as caught:
        parse_schedule({"vaccines": [{"key": "td", "name": "Td", "rule": "every", "min_age": 19}]})
    assert caught.value.field == "vaccines[0].years"
