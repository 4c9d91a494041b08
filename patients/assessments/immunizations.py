"""Immunization screening: which adult vaccines a patient is due for on a day. Pure.

The schedule is data (`patients/data/adult_immunization_schedule.json`, a pharmacy's own copy
when it has one), a list of vaccines each with one rule:

- `season`: one dose per season (the season starts on `season_starts`, MM-DD, default 08-01)
  from `min_age` (influenza yearly; COVID-19);
- `every`: a dose every `years` years from `min_age`, due when none is on record (Tdap/Td);
- `series`: `doses` doses from `min_age`, the next one `interval_days` after the last
  (recombinant zoster: 2 doses, 8 weeks apart at the earliest, from 50);
- `once`: one dose from `min_age`, or from `risk_min_age` for a patient with an active
  condition whose ICD-10-CM code starts with one of `risk_icd10` (pneumococcal, RSV).

`counts` lists the history keys that count as a dose (default: the vaccine's own key), so a Td
counts for Tdap/Td. `max_age` ends a recommendation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from patients.assessments.definition import DefinitionError

RULES = ("season", "every", "series", "once")


@dataclass(frozen=True)
class VaccineRule:
    key: str
    name: str
    rule: str
    min_age: int
    max_age: int | None = None
    years: int | None = None
    doses: int = 1
    interval_days: int = 0
    risk_min_age: int | None = None
    risk_icd10: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()

    @property
    def history_keys(self) -> tuple[str, ...]:
        return self.counts or (self.key,)


@dataclass(frozen=True)
class Schedule:
    title: str
    season_starts: tuple[int, int]
    vaccines: tuple[VaccineRule, ...]

    @property
    def keys(self) -> set[str]:
        known = set()
        for vaccine in self.vaccines:
            known.update((vaccine.key, *vaccine.history_keys))
        return known


@dataclass(frozen=True)
class DueVaccine:
    key: str
    name: str
    dose: int  # which dose is due (1 for a first or a seasonal dose)
    reason: str


def _int(raw: dict, key: str, where: str, *, required=False, low=0, high=130) -> int | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise DefinitionError(f"{where}.{key}", "Required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DefinitionError(f"{where}.{key}", f"A whole number from {low} to {high}.")
    return value


def parse_schedule(raw) -> Schedule:
    """Check a schedule document and return it (DefinitionError names the wrong field)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("vaccines"), list):
        raise DefinitionError("vaccines", "A schedule has a list of vaccines.")
    season = raw.get("season_starts", "08-01")
    try:
        month, day = (int(part) for part in str(season).split("-"))
        dt.date(2001, month, day)
    except ValueError:
        raise DefinitionError("season_starts", "MM-DD, e.g. 08-01.") from None
    vaccines, seen = [], set()
    for index, item in enumerate(raw["vaccines"]):
        where = f"vaccines[{index}]"
        if not isinstance(item, dict):
            raise DefinitionError(where, "A vaccine is an object.")
        key, name = item.get("key"), item.get("name")
        if not isinstance(key, str) or not key.isidentifier() or len(key) > 30:
            raise DefinitionError(f"{where}.key", "A short key of letters, digits and _.")
        if key in seen:
            raise DefinitionError(f"{where}.key", f"{key!r} is listed twice.")
        seen.add(key)
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError(f"{where}.name", "Give the vaccine's name.")
        rule = item.get("rule")
        if rule not in RULES:
            raise DefinitionError(f"{where}.rule", f"One of {', '.join(RULES)}.")
        risk = item.get("risk_icd10", [])
        counts = item.get("counts", [])
        for list_key, values in (("risk_icd10", risk), ("counts", counts)):
            if not isinstance(values, list) or any(not isinstance(v, str) for v in values):
                raise DefinitionError(f"{where}.{list_key}", "A list of texts.")
        vaccines.append(
            VaccineRule(
                key=key,
                name=name.strip(),
                rule=rule,
                min_age=_int(item, "min_age", where, required=True),
                max_age=_int(item, "max_age", where),
                years=_int(item, "years", where, required=rule == "every", low=1, high=50),
                doses=_int(item, "doses", where, required=rule == "series", low=1, high=6) or 1,
                interval_days=_int(item, "interval_days", where, high=3650) or 0,
                risk_min_age=_int(item, "risk_min_age", where),
                risk_icd10=tuple(v.upper().replace(".", "") for v in risk),
                counts=tuple(counts),
            )
        )
    return Schedule(
        title=str(raw.get("title", "")), season_starts=(month, day), vaccines=tuple(vaccines)
    )


def age_on(birth_date: dt.date, on_date: dt.date) -> int:
    return (
        on_date.year
        - birth_date.year
        - ((on_date.month, on_date.day) < (birth_date.month, birth_date.day))
    )


def season_start(schedule: Schedule, on_date: dt.date) -> dt.date:
    month, day = schedule.season_starts
    start = dt.date(on_date.year, month, day)
    return start if start <= on_date else dt.date(on_date.year - 1, month, day)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def vaccines_due(
    schedule: Schedule,
    *,
    birth_date: dt.date,
    on_date: dt.date,
    history: list[tuple[str, dt.date]],
    condition_codes: list[str] = (),
) -> list[DueVaccine]:
    """The vaccines due on `on_date` for a patient born on `birth_date` with this history
    (vaccine key, date given; doses after `on_date` are ignored) and these active ICD-10-CM
    codes, in the schedule's order."""
    age = age_on(birth_date, on_date)
    codes = [code.upper().replace(".", "") for code in condition_codes]
    due: list[DueVaccine] = []
    for vaccine in schedule.vaccines:
        doses = sorted(d for key, d in history if key in vaccine.history_keys and d <= on_date)
        at_risk = (
            any(code.startswith(vaccine.risk_icd10) for code in codes)
            if vaccine.risk_icd10
            else False
        )
        start_age = vaccine.min_age
        if at_risk and vaccine.risk_min_age is not None:
            start_age = min(start_age, vaccine.risk_min_age)
        if age < start_age or (vaccine.max_age is not None and age > vaccine.max_age):
            continue
        risk_note = " (a risk condition on the record)" if age < vaccine.min_age else ""
        if vaccine.rule == "season":
            start = season_start(schedule, on_date)
            if not any(d >= start for d in doses):
                due.append(
                    DueVaccine(vaccine.key, vaccine.name, 1, f"No dose since {start:%b %-d, %Y}.")
                )
        elif vaccine.rule == "every":
            if not doses:
                due.append(DueVaccine(vaccine.key, vaccine.name, 1, "No dose on record."))
            elif _add_years(doses[-1], vaccine.years) <= on_date:
                due.append(
                    DueVaccine(
                        vaccine.key,
                        vaccine.name,
                        1,
                        f"Last dose {doses[-1]:%b %-d, %Y}, over {vaccine.years} years ago.",
                    )
                )
        elif vaccine.rule == "series":
            if len(doses) >= vaccine.doses:
                continue
            if not doses:
                due.append(
                    DueVaccine(
                        vaccine.key, vaccine.name, 1, f"Dose 1 of {vaccine.doses}{risk_note}."
                    )
                )
            elif doses[-1] + dt.timedelta(days=vaccine.interval_days) <= on_date:
                number = len(doses) + 1
                due.append(
                    DueVaccine(
                        vaccine.key,
                        vaccine.name,
                        number,
                        f"Dose {number} of {vaccine.doses}; the last on {doses[-1]:%b %-d, %Y}.",
                    )
                )
        elif not doses:  # once
            due.append(DueVaccine(vaccine.key, vaccine.name, 1, f"No dose on record{risk_note}."))
    return due


def rule_in_words(vaccine: dict) -> str:
    """When a vaccine of a schedule document is due, in words (the schedule page's table)."""
    age = f"from age {vaccine.get('min_age')}" if vaccine.get("min_age") else "adults"
    risk = (
        f" (from {vaccine['risk_min_age']} with a risk condition)"
        if vaccine.get("risk_min_age")
        else ""
    )
    rule = vaccine.get("rule")
    if rule == "season":
        return f"Each season, {age}{risk}"
    if rule == "every":
        return f"Every {vaccine.get('years')} years, {age}{risk}"
    if rule == "series":
        doses, gap = vaccine.get("doses"), vaccine.get("interval_days")
        return f"{doses} doses {gap} days apart, {age}{risk}"
    if rule == "once":
        return f"Once, {age}{risk}"
    return f"{rule}, {age}{risk}"
