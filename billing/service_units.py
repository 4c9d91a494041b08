"""MTM time units (pure): which codes and how many units a pharmacist's minutes bill.

DOMAIN section 9: 99605 (initial 15 minutes, new patient) or 99606 (established), plus
+99607 per additional 15 minutes. CPT's midpoint rule: a unit counts once more than half of
it is spent, so 8-22 minutes bill the initial code alone, 23-37 add one 99607, 38-52 add two,
and under 8 minutes nothing is billable.

    mtm_units(minutes=40, new_patient=True) == [("99605", 1), ("99607", 2)]
"""

from __future__ import annotations

INITIAL_NEW = "99605"
INITIAL_ESTABLISHED = "99606"
ADD_ON = "99607"
UNIT_MINUTES = 15
# More than half a unit: 8 of 15 minutes.
MIDPOINT = UNIT_MINUTES // 2 + 1


def mtm_units(*, minutes: int, new_patient: bool) -> list[tuple[str, int]]:
    """The (code, units) an MTM service of `minutes` face-to-face minutes bills."""
    if minutes < 0:
        raise ValueError("minutes cannot be negative")
    if minutes < MIDPOINT:
        return []
    initial = INITIAL_NEW if new_patient else INITIAL_ESTABLISHED
    extra = minutes - UNIT_MINUTES
    add_on_units = max(0, (extra + UNIT_MINUTES - MIDPOINT) // UNIT_MINUTES)
    lines = [(initial, 1)]
    if add_on_units:
        lines.append((ADD_ON, add_on_units))
    return lines
