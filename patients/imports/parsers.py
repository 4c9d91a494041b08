"""Field parsers of the CSV imports: one cell in, a clean value out, or RowRejected.

Pure (no Django, no ORM), so each rule can be tested on its own: every parser takes the row
(a dict of column -> text) and the column name, and its error message names the column and
the value so the person fixing the file finds it. Identifiers checked by the project's shared
validators (phone, email, NDC, NPI) are in `identifiers.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable
from decimal import Decimal, InvalidOperation

from patients.imports.results import RowRejected

DATE_LAYOUTS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d")
WHOLE_DIGITS = 12  # no numeric column holds more digits before the point (bounds per column: base)
INTEGER_MAX = 2_147_483_647  # a PostgreSQL integer
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PRN_SIG = re.compile(r"\b(prn|as needed|as-needed|when needed|if needed)\b", re.IGNORECASE)


def shown(value: str, limit: int = 40) -> str:
    """A cell quoted for a message, cut short so a huge cell does not flood the report."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def cell(row: dict, column: str) -> str:
    """The stripped text of a cell; a missing column reads as empty."""
    return (row.get(column) or "").strip()


def is_blank(row: dict) -> bool:
    """True for a line with no value at all (a blank line is not a record)."""
    try:
        return not "".join(row.values()).strip()
    except TypeError:  # a value that is not text (None for a missing cell)
        return not any((value or "").strip() for value in row.values() if isinstance(value, str))


def text(row: dict, column: str, *, required: bool = False, max_length: int = 200) -> str:
    """Free text, stripped; refuses an empty required cell and text over `max_length`."""
    value = cell(row, column)
    if required and not value:
        raise RowRejected(f"{column} is empty.")
    if len(value) > max_length:
        raise RowRejected(f"{column} is longer than {max_length} characters.")
    return value


def date(row: dict, column: str, *, required: bool = True) -> dt.date | None:
    """A date as YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD; None when empty and not required."""
    value = cell(row, column)
    if not value:
        if required:
            raise RowRejected(f"{column} is empty.")
        return None
    if _ISO_DATE.fullmatch(value):  # the common layout, read without strptime
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise RowRejected(f"{column} {shown(value)} is not a date (use YYYY-MM-DD).") from None
    for layout in DATE_LAYOUTS:
        try:
            return dt.datetime.strptime(value, layout).date()
        except ValueError:
            continue
    raise RowRejected(f"{column} {shown(value)} is not a date (use YYYY-MM-DD).")


def date_time(row: dict, column: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A moment: ISO 8601, or a bare date read as noon; naive values are in `tz`.

    `tz` is the pharmacy's time zone: the pharmacy system writes its local time.
    """
    value = cell(row, column)
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        day = date(row, column)
        parsed = dt.datetime.combine(day, dt.time(12, 0))
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def decimal(
    row: dict,
    column: str,
    *,
    required: bool = True,
    positive: bool = False,
    minimum: Decimal | None = None,
    whole_digits: int = WHOLE_DIGITS,
) -> Decimal | None:
    """A finite number (a leading $ is allowed); `positive` refuses 0, `minimum` is inclusive.

    A number with more than `whole_digits` digits before the point is refused here, before
    any rounding; each column's own precision is checked when the row is staged.
    """
    value = cell(row, column).replace("$", "")
    if not value:
        if required:
            raise RowRejected(f"{column} is empty.")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise RowRejected(f"{column} {shown(value)} is not a number.") from None
    if not number.is_finite():
        raise RowRejected(f"{column} {shown(value)} is not a number.")
    if number and number.adjusted() >= whole_digits:
        raise RowRejected(f"{column} {shown(value)} is too large (over {whole_digits} digits).")
    if positive and number <= 0:
        raise RowRejected(f"{column} must be more than 0 (got {value}).")
    if minimum is not None and number < minimum:
        raise RowRejected(f"{column} must be at least {minimum} (got {value}).")
    return number


def integer(
    row: dict,
    column: str,
    *,
    required: bool = True,
    positive: bool = False,
    default: int = 0,
    maximum: int = INTEGER_MAX,
) -> int:
    """A whole number, never negative (`positive` also refuses 0), at most `maximum`;
    `default` when empty."""
    value = cell(row, column)
    if not value:
        if required:
            raise RowRejected(f"{column} is empty.")
        return default
    if not re.fullmatch(r"-?\d+", value):
        raise RowRejected(f"{column} {shown(value)} is not a whole number.")
    number = int(value) if len(value) <= 20 else maximum + 1  # int() of 4,301 digits raises
    if number > maximum:
        raise RowRejected(f"{column} {shown(value)} is too large (at most {maximum}).")
    if positive and number <= 0:
        raise RowRejected(f"{column} must be more than 0 (got {value}).")
    if number < 0:
        raise RowRejected(f"{column} cannot be negative (got {value}).")
    return number


def choice(row: dict, column: str, choices: Iterable, default: str) -> str:
    """One of the `choices` (an enum of values), matched without regard to case."""
    value = cell(row, column).lower()
    if not value:
        return default
    allowed = {c.value.lower(): c.value for c in choices}
    if value not in allowed:
        raise RowRejected(f"{column} {shown(value)} is not one of {', '.join(sorted(allowed))}.")
    return allowed[value]


_YES = {"y", "yes", "true", "1", "x"}
_NO = {"n", "no", "false", "0"}


def flag(row: dict, column: str, *, default: bool) -> bool:
    """A yes/no column (y, yes, true, 1 / n, no, false, 0); `default` when empty or absent."""
    value = cell(row, column).lower()
    if not value:
        return default
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise RowRejected(f"{column} {shown(value)} is not yes or no.")


def state(row: dict, column: str, *, states: Collection[str], default: str = "") -> str:
    """A two-letter US state code (any case), one of `states`; `default` when empty."""
    value = cell(row, column).upper()
    if not value:
        return default
    if value not in states:
        raise RowRejected(f"{column} {shown(value)} is not a US state code.")
    return value


def bin_number(row: dict, column: str = "bin", *, required: bool) -> str:
    """A BIN (IIN): exactly 6 digits when the plan bills a payer (`required`), else any."""
    value = text(row, column, max_length=6)
    if required and not re.fullmatch(r"\d{6}", value):
        raise RowRejected(f"{column} {shown(value)} is not 6 digits.")
    return value


def scc_codes(row: dict, column: str = "scc_codes") -> list[int]:
    """NCPDP submission clarification codes (420-DK), 0 to 99, separated by ; | , or space."""
    raw = cell(row, column)
    try:
        codes = [int(code) for code in re.split(r"[;|, ]+", raw) if code]
    except ValueError:
        raise RowRejected(f"{column} {shown(raw)} must be numbers such as 47;48.") from None
    if any(code < 0 or code > 99 for code in codes):
        raise RowRejected(f"{column} {shown(raw)}: each NCPDP 420-DK code is 0 to 99.")
    return codes


def sig_says_as_needed(sig: str) -> bool:
    """True when the directions say PRN / as needed (the prescription is then not maintenance)."""
    return bool(_PRN_SIG.search(sig))


def prescription_expiry(written: dt.date, *, controlled: bool) -> dt.date:
    """When a prescription expires if the file does not say (DOMAIN 2/3).

    One year from the written date; six months for controlled substances (CIII-CV). A day
    that the target month lacks becomes that month's last day (28 in February).
    """
    months = 6 if controlled else 12
    year = written.year + (written.month - 1 + months) // 12
    month = (written.month - 1 + months) % 12 + 1
    day = min(written.day, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
    return dt.date(year, month, day)


def days_supply_mismatch(days: int, quantity: Decimal, daily_dose: Decimal) -> str | None:
    """A warning when days_supply is off quantity / daily_dose by over 2 days and over 10%."""
    implied = (quantity / daily_dose) if daily_dose else Decimal(0)
    if abs(implied - days) > max(Decimal(2), Decimal(days) * Decimal("0.1")):
        return (
            f"days_supply {days} does not match quantity / daily_dose = "
            f"{implied.quantize(Decimal('0.1'))}: PBM audits recoup a wrong days supply."
        )
    return None
