"""The pure rules of patient texting: no ORM, plain values in and out.

- the send window (quiet hours) in the patient's local time, daylight saving included;
- the healthcare-exemption limits (at most N automated texts a local day, M in any
  7 consecutive local days), the first day a new text fits and the first moment it may go
  (its send slot);
- the back-off between attempts after a temporary gateway error;
- keywords of inbound texts (STOP family, START, HELP, confirm, change);
- template variables, rendering and validation (160 characters, no drug or condition).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# --- The send window --------------------------------------------------------------------------


def local_window(day: date, tz: ZoneInfo, start: time, end: time) -> tuple[datetime, datetime]:
    """The aware UTC datetimes the window opens and closes on a local calendar day.

    zoneinfo resolves wall times on daylight-saving days (fold=0: the first of two
    08:00s in autumn, the shifted time for a skipped one in spring).
    """
    opens = datetime.combine(day, start, tzinfo=tz).astimezone(UTC)
    closes = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
    return opens, closes


def in_window(moment: datetime, tz: ZoneInfo, start: time, end: time) -> bool:
    local = moment.astimezone(tz)
    opens, closes = local_window(local.date(), tz, start, end)
    return opens <= moment < closes


def next_window_start(moment: datetime, tz: ZoneInfo, start: time, end: time) -> datetime:
    """`moment` itself when inside the window, else the next moment the window opens."""
    local_day = moment.astimezone(tz).date()
    for offset in range(3):
        opens, closes = local_window(local_day + timedelta(days=offset), tz, start, end)
        if moment < closes:
            return max(moment, opens)
    raise AssertionError("unreachable: a window opens within two days")


def earliest_on_day(day: date, moment: datetime, tz: ZoneInfo, start: time, end: time) -> datetime:
    """The first moment on local `day`, not before `moment`, inside the window."""
    opens, closes = local_window(day, tz, start, end)
    candidate = max(opens, moment)
    if candidate >= closes:
        return next_window_start(candidate, tz, start, end)
    return candidate


# --- The daily and weekly limits --------------------------------------------------------------

WEEK_DAYS = 7


def fits(day: date, counts: Mapping[date, int], *, daily: int, weekly: int) -> bool:
    """Whether one more automated text on `day` keeps every day and every 7-day window
    (each window of 7 consecutive local days that contains `day`) within the limits."""
    if counts.get(day, 0) + 1 > daily:
        return False
    for first in (day - timedelta(days=back) for back in range(WEEK_DAYS)):
        in_window_count = sum(counts.get(first + timedelta(days=i), 0) for i in range(WEEK_DAYS))
        if in_window_count + 1 > weekly:
            return False
    return True


def first_fitting_day(
    earliest: date, counts: Mapping[date, int], *, daily: int, weekly: int, horizon_days: int = 400
) -> date:
    """The first local day from `earliest` on where one more automated text fits."""
    for offset in range(horizon_days):
        day = earliest + timedelta(days=offset)
        if fits(day, counts, daily=daily, weekly=weekly):
            return day
    raise ValueError("No day within the horizon fits the limits.")


def limit_reason(day: date, counts: Mapping[date, int], *, daily: int, weekly: int) -> str:
    """Which limit stops a text on `day`: "daily_limit", "weekly_limit" or ""."""
    if counts.get(day, 0) + 1 > daily:
        return "daily_limit"
    if not fits(day, counts, daily=daily, weekly=weekly):
        return "weekly_limit"
    return ""


# Why a text waits for a later moment than asked (the values of the model's DeferReason).
DEFER_QUIET_HOURS = "quiet_hours"


@dataclass(frozen=True)
class SendSlot:
    """When an automated text may go: `due_at` (UTC), the local day it counts toward the
    limits (`slot_date`), and why it waits past the moment asked for ('' when it does not)."""

    due_at: datetime
    slot_date: date
    defer_reason: str


def first_send_slot(
    *,
    start: datetime,
    counts: Mapping[date, int],
    tz: ZoneInfo,
    window_start: time,
    window_end: time,
    daily: int,
    weekly: int,
) -> SendSlot:
    """The first moment from `start` inside the patient's window on a day within the limits.

    `counts`: automated texts already planned per local day (from a week before `start`).
    """
    start_day = start.astimezone(tz).date()
    earliest = start_day
    for _ in range(10):
        day = first_fitting_day(earliest, counts, daily=daily, weekly=weekly)
        due = earliest_on_day(day, start, tz, window_start, window_end)
        if due.astimezone(tz).date() == day:
            break
        earliest = due.astimezone(tz).date()  # the window on `day` had already closed
    if due <= start:
        reason = ""
    elif day > start_day:
        reason = limit_reason(start_day, counts, daily=daily, weekly=weekly) or DEFER_QUIET_HOURS
    else:
        reason = DEFER_QUIET_HOURS
    return SendSlot(due_at=due, slot_date=day, defer_reason=reason)


# --- Retries ----------------------------------------------------------------------------------

RETRY_BACKOFF_CAP_SECONDS = 3600


def retry_backoff_seconds(attempts: int, *, base: float) -> float:
    """How long to wait before attempt `attempts + 1`: doubling from `base`, at most an hour."""
    return min(RETRY_BACKOFF_CAP_SECONDS, base * 2 ** max(0, attempts - 1))


# --- Keywords ---------------------------------------------------------------------------------

INTENT_OPT_OUT = "opt_out"
INTENT_OPT_IN = "opt_in"
INTENT_HELP = "help"
INTENT_CONFIRM = "confirm"
INTENT_CHANGE = "change"
INTENT_NONE = ""

# Spanish keywords: a text in these is answered in Spanish whatever the patient's language.
SPANISH_STOP_WORDS = frozenset({"parar", "alto", "detener", "baja", "cancelar"})
SPANISH_START_WORDS = frozenset({"si", "sí"})
SPANISH_HELP_WORDS = frozenset({"ayuda"})
SPANISH_KEYWORDS = SPANISH_STOP_WORDS | SPANISH_START_WORDS | SPANISH_HELP_WORDS
# FCC 24-18 and CTIA: the STOP family, plus Spanish equivalents for our Spanish templates.
STOP_WORDS = (
    frozenset(
        {
            "stop",
            "stopall",
            "stop all",
            "unsubscribe",
            "cancel",
            "end",
            "quit",
            "revoke",
            "optout",
            "opt out",
            "opt-out",
        }
    )
    | SPANISH_STOP_WORDS
)
# "Any reasonable wording" (FCC 24-18): clear requests to stop, in a sentence.
STOP_PHRASES = re.compile(
    r"^(please\s+)?(stop|quit|end)\s+(texting|messaging|sending|the\s+texts|texts|messages)"
    r"|\b(unsubscribe\s+me|do\s+not\s+text|don'?t\s+text|no\s+more\s+(texts|messages))\b"
    r"|^(please\s+)?stop(\s+please)?$"
    r"|\bno\s+m[aá]s\s+mensajes\b",
)
START_WORDS = frozenset({"start", "unstop", "yes"}) | SPANISH_START_WORDS
HELP_WORDS = frozenset({"help", "info"}) | SPANISH_HELP_WORDS
CONFIRM_WORDS = frozenset({"c", "confirm", "confirmed", "confirmar", "confirmo"})
CONFIRM_IF_PREP_OPEN = frozenset({"yes", "y", "si", "sí", "ok", "okay"})
CHANGE_WORDS = frozenset({"x", "change", "changes", "cambio", "cambios"})
# Words that suggest an opt-out but are not clear enough to act on alone: staff review.
STOP_HINT = re.compile(r"\b(stop|unsubscribe|opt\s*-?\s*out|quit|revoke)\b")


def normalize(body: str) -> str:
    """Case-folded, trimmed, inner whitespace collapsed, outer punctuation removed."""
    text = unicodedata.normalize("NFC", body or "").casefold().strip()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .!?,;:'\"()[]¡¿")


@dataclass(frozen=True)
class Classified:
    intent: str
    keyword: str = ""
    needs_review: str = ""


def classify(body: str, *, prep_question_open: bool, opted_out: bool) -> Classified:
    """What an inbound text asks for.

    YES opts back in when the number is opted out; while a prep question is open it
    confirms; otherwise it goes to the inbox like any other text.
    """
    text = normalize(body)
    if text in STOP_WORDS or STOP_PHRASES.search(text):
        return Classified(INTENT_OPT_OUT, keyword=text)
    if text in HELP_WORDS:
        return Classified(INTENT_HELP, keyword=text)
    if text in START_WORDS and (opted_out or text not in CONFIRM_IF_PREP_OPEN):
        return Classified(INTENT_OPT_IN, keyword=text)
    if text in CONFIRM_WORDS or (prep_question_open and text in CONFIRM_IF_PREP_OPEN):
        return Classified(INTENT_CONFIRM, keyword=text)
    if text in CHANGE_WORDS:
        return Classified(INTENT_CHANGE, keyword=text)
    if STOP_HINT.search(text):
        return Classified(INTENT_NONE, needs_review="May be asking to stop texts: check and call.")
    return Classified(INTENT_NONE)


def reply_language(body: str, default: str) -> str:
    """The language to answer a keyword in: Spanish for a Spanish keyword, else `default`."""
    return "es" if normalize(body) in SPANISH_KEYWORDS else default


# --- Templates --------------------------------------------------------------------------------

SMS_MAX_CHARS = 160
FIRST_NAME_MAX = 15  # rendered first names are cut to this, so the limit always holds
PHARMACY_NAME_MAX = 30
# A one-time signing link as checked for length (a longer one shortens the pharmacy's name).
LINK_MAX = 72

ALLOWED_VARIABLES = {
    "first_name": "The patient's first name (cut to 15 characters)",
    "pharmacy_name": "The pharmacy's name (cut to 30 characters)",
    "pharmacy_phone": "The pharmacy's phone number",
    "anchor_date": "The pickup (anchor) date, e.g. Thu 3/12",
    "pickup_by": "The last pickup day before return to stock, e.g. Mon 3/16",
    "reply_options": "How to answer: C to confirm, X for changes",
    "appointment_time": "The appointment's day and time (pharmacy time), e.g. Thu 3/12 2:30 PM",
    "link": "A one-time agreement signing link (holds no patient data)",
}
# A variable whose name says it carries a drug, a condition or other PHI.
PHI_VARIABLE = re.compile(
    r"drug|med|rx|prescri|ndc|sig|dose|strength|condition|diagnos|dx|icd|therapy|"
    r"disease|allerg|insur|copay|price|cost|dob|birth|last_name|address|mrn|ssn|class"
)
OPT_OUT_INSTRUCTION = re.compile(r"\bSTOP\b")

WEEKDAYS = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "es": ["lun", "mar", "mie", "jue", "vie", "sab", "dom"],  # GSM-7: no accents
}
REPLY_OPTIONS = {
    "en": "Reply C to confirm, X for changes",
    "es": "Responda C para confirmar, X si hay cambios",
}


def format_date(value: date, language: str) -> str:
    names = WEEKDAYS.get(language, WEEKDAYS["en"])
    if language == "es":
        return f"{names[value.weekday()]} {value.day}/{value.month}"
    return f"{names[value.weekday()]} {value.month}/{value.day}"


def format_datetime(value: datetime, language: str) -> str:
    """A local day and time: Thu 3/12 2:30 PM (English), jue 12/3 14:30 (Spanish)."""
    day = format_date(value.date(), language)
    if language == "es":
        return f"{day} {value.hour}:{value.minute:02d}"
    hour = value.hour % 12 or 12
    return f"{day} {hour}:{value.minute:02d} {'AM' if value.hour < 12 else 'PM'}"


def format_phone(e164: str) -> str:
    """+16085550134 -> (608) 555-0134; other numbers stay as given."""
    if re.fullmatch(r"\+1\d{10}", e164 or ""):
        digits = e164[2:]
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return e164 or ""


def longest_values(language: str, *, pharmacy_name_max: int = PHARMACY_NAME_MAX) -> dict:
    """The longest value each variable can take when rendered (for the 160 check)."""
    longest_date = max(
        (format_date(date(2026, 12, 28) + timedelta(days=i), language) for i in range(7)),
        key=len,
    )
    return {
        "first_name": "W" * FIRST_NAME_MAX,
        "pharmacy_name": "W" * pharmacy_name_max,
        "pharmacy_phone": "(999) 999-9999",
        "anchor_date": longest_date,
        "pickup_by": longest_date,
        "reply_options": REPLY_OPTIONS.get(language, REPLY_OPTIONS["en"]),
        "appointment_time": max(
            (
                format_datetime(datetime(2026, 12, 28, 12, 30) + timedelta(days=i), language)
                for i in range(7)
            ),
            key=len,
        ),
        "link": "W" * LINK_MAX,
    }


def template_variables(body: str) -> list[str]:
    """The {names} a template uses. Raises ValueError on broken braces."""
    names = []
    for _literal, field, spec, conversion in string.Formatter().parse(body):
        if field is None:
            continue
        if spec or conversion:
            raise ValueError(f"{{{field}}} may not carry a format or conversion.")
        names.append(field)
    return names


@dataclass(frozen=True)
class TemplateCheck:
    errors: dict[str, list[str]]
    longest_render: str
    longest_length: int

    @property
    def ok(self) -> bool:
        return not self.errors


def check_template(
    body: str,
    *,
    language: str,
    automated: bool,
    pharmacy_name_max: int = PHARMACY_NAME_MAX,
    forbidden_words: Iterable[str] = (),
) -> TemplateCheck:
    """Validate a template: known variables only, no PHI variable, <= 160 characters with
    the longest values, the opt-out instruction in automated texts, no drug or condition
    named in the text (`forbidden_words`: found by the caller, e.g. in the drug catalog)."""
    errors: list[str] = []
    if not body.strip():
        return TemplateCheck({"body": ["The text is empty."]}, "", 0)
    try:
        names = template_variables(body)
    except ValueError as exc:
        return TemplateCheck(
            {"body": [f"Braces are unbalanced or malformed: {exc} Use {{first_name}}."]}, "", 0
        )
    for name in dict.fromkeys(names):
        if not re.fullmatch(r"[a-z_]+", name):
            errors.append(f"{{{name}}} is not a variable name; use one of {_allowed_list()}.")
        elif name not in ALLOWED_VARIABLES and PHI_VARIABLE.search(name):
            errors.append(
                f"{{{name}}} could put a drug name, condition or other health information in a "
                f"text; texts may only use {_allowed_list()}."
            )
        elif name not in ALLOWED_VARIABLES:
            errors.append(f"{{{name}}} is not a known variable; use one of {_allowed_list()}.")
    if errors:
        return TemplateCheck({"body": errors}, "", 0)
    rendered = render(body, longest_values(language, pharmacy_name_max=pharmacy_name_max))
    if len(rendered) > SMS_MAX_CHARS:
        errors.append(
            f"With the longest values this text is {len(rendered)} characters; "
            f"the limit is {SMS_MAX_CHARS}. Shorten it by {len(rendered) - SMS_MAX_CHARS}."
        )
    if automated and not OPT_OUT_INSTRUCTION.search(body):
        errors.append('Automated texts must say how to opt out, e.g. "Reply STOP to opt out".')
    found = sorted(set(forbidden_words))
    if found:
        errors.append("Texts must not name drugs or conditions; found: " + ", ".join(found) + ".")
    return TemplateCheck({"body": errors} if errors else {}, rendered, len(rendered))


def _allowed_list() -> str:
    return ", ".join("{" + name + "}" for name in ALLOWED_VARIABLES)


def render(body: str, values: Mapping[str, str]) -> str:
    """Fill a validated template. Unknown names render empty rather than raise."""
    safe = {name: str(values.get(name, "")) for name in ALLOWED_VARIABLES}
    return body.format_map(_Default(safe))


class _Default(dict):
    def __missing__(self, key):
        return ""


def render_fitted(body: str, values: Mapping[str, str]) -> str:
    """Render, and if the text overflows one SMS (a pharmacy renamed after its templates were
    checked), shorten the pharmacy's name to fit, then cut at the limit."""
    text = render(body, values)
    if len(text) > SMS_MAX_CHARS:
        overflow = len(text) - SMS_MAX_CHARS
        name = values["pharmacy_name"]
        values = {**values, "pharmacy_name": name[: max(8, len(name) - overflow)].rstrip()}
        text = render(body, values)[:SMS_MAX_CHARS]
    return text


def clip(value: str, limit: int) -> str:
    value = (value or "").strip()
    return value if len(value) <= limit else value[:limit].rstrip()


# --- GSM-7: how many segments a text costs (shown in the template preview) --------------------

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€")


def segments(text: str) -> tuple[str, int]:
    """("GSM-7" or "UCS-2", segment count) as carriers bill it."""
    if all(ch in _GSM7 or ch in _GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        return "GSM-7", 1 if units <= 160 else -(-units // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


# --- PHI words in free text -------------------------------------------------------------------

CONDITION_WORDS = frozenset(
    {
        "diabetes",
        "diabetic",
        "hypertension",
        "cholesterol",
        "depression",
        "anxiety",
        "hiv",
        "aids",
        "cancer",
        "asthma",
        "copd",
        "epilepsy",
        "schizophrenia",
        "bipolar",
        "hepatitis",
        "insulin",
        "opioid",
        "pregnancy",
        "pregnant",
        "dementia",
        "glaucoma",
    }
)


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-záéíóúñü]{3,}", (text or "").casefold())}
