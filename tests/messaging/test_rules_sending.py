"""The pure sending rules moved out of the services: an automated text's send slot, the
retry back-off, rendering that always fits one SMS, and the language of keyword replies."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging import rules

CHICAGO = ZoneInfo("America/Chicago")
EIGHT, NINE_PM = time(8), time(21)
TUESDAY_10AM = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 10:00 CST
TUESDAY = date(2026, 3, 3)


def slot(start, counts=None, *, daily=1, weekly=3):
    return rules.first_send_slot(
        start=start,
        counts=counts or {},
        tz=CHICAGO,
        window_start=EIGHT,
        window_end=NINE_PM,
        daily=daily,
        weekly=weekly,
    )


# --- The send slot ----------------------------------------------------------------------------


def test_inside_the_window_with_nothing_sent_the_text_goes_now():
    assert slot(TUESDAY_10AM) == rules.SendSlot(TUESDAY_10AM, TUESDAY, "")


def test_after_the_window_closes_the_text_waits_for_the_next_morning_for_quiet_hours():
    ten_pm = datetime(2026, 3, 4, 4, 0, tzinfo=UTC)  # 22:00 CST on Tuesday
    assert slot(ten_pm) == rules.SendSlot(
        datetime(2026, 3, 4, 14, 0, tzinfo=UTC), date(2026, 3, 4), rules.DEFER_QUIET_HOURS
    )


def test_before_the_window_opens_the_text_waits_the_same_day():
    six_am = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)  # 06:00 CST
    assert slot(six_am) == rules.SendSlot(
        datetime(2026, 3, 3, 14, 0, tzinfo=UTC), TUESDAY, rules.DEFER_QUIET_HOURS
    )


def test_a_day_already_used_moves_the_text_to_the_next_morning_for_the_daily_limit():
    result = slot(TUESDAY_10AM, {TUESDAY: 1})
    assert result.slot_date == date(2026, 3, 4)
    assert result.due_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
    assert result.defer_reason == "daily_limit"


def test_three_texts_this_week_move_the_text_past_the_week_for_the_weekly_limit():
    counts = {TUESDAY - timedelta(days=n): 1 for n in (1, 3, 5)}
    result = slot(TUESDAY_10AM, counts)
    assert result.defer_reason == "weekly_limit"
    assert result.slot_date == TUESDAY - timedelta(days=5) + timedelta(days=7)
    assert rules.fits(result.slot_date, counts, daily=1, weekly=3)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    used=st.lists(st.integers(min_value=-6, max_value=6), max_size=6),
)
def test_the_slot_is_never_early_always_inside_the_window_and_within_the_limits(start, used):
    today = start.astimezone(CHICAGO).date()
    counts: dict[date, int] = {}
    for offset in used:
        day = today + timedelta(days=offset)
        counts[day] = counts.get(day, 0) + 1
    result = slot(start, counts, daily=2, weekly=4)
    assert result.due_at >= start
    assert rules.in_window(result.due_at, CHICAGO, EIGHT, NINE_PM)
    assert result.due_at.astimezone(CHICAGO).date() == result.slot_date
    assert rules.fits(result.slot_date, counts, daily=2, weekly=4)
    assert (result.defer_reason == "") == (result.due_at == start)


# --- Retries ----------------------------------------------------------------------------------


def test_the_back_off_doubles_from_the_base_and_stops_at_an_hour():
    waits = [rules.retry_backoff_seconds(n, base=60) for n in range(0, 9)]
    assert waits == [60, 60, 120, 240, 480, 960, 1920, 3600, 3600]


# --- Rendering that fits one SMS --------------------------------------------------------------


def test_a_text_that_fits_is_rendered_as_is():
    values = {"first_name": "Ana", "pharmacy_name": "Maple Pharmacy"}
    assert rules.render_fitted("Hi {first_name}, {pharmacy_name}", values) == (
        "Hi Ana, Maple Pharmacy"
    )


def test_a_renamed_pharmacy_too_long_for_the_text_is_shortened_to_fit():
    body = "x" * 140 + " {pharmacy_name}"
    text = rules.render_fitted(body, {"pharmacy_name": "A Very Long Pharmacy Name Indeed"})
    assert len(text) == rules.SMS_MAX_CHARS
    assert text.endswith(" A Very Long Pharmac")


def test_the_shortened_name_keeps_eight_characters_and_the_text_is_cut_at_the_limit():
    body = "x" * 158 + " {pharmacy_name}"
    text = rules.render_fitted(body, {"pharmacy_name": "Maple Pharmacy"})
    assert len(text) == rules.SMS_MAX_CHARS
    assert text == "x" * 158 + " M"


# --- The language of a keyword reply ----------------------------------------------------------


def test_a_spanish_keyword_is_answered_in_spanish_whatever_the_patients_language():
    for body in ("AYUDA", "parar", " Alto! ", "detener", "BAJA", "cancelar", "Sí", "si"):
        assert rules.reply_language(body, "en") == "es", body


def test_any_other_text_is_answered_in_the_patients_language():
    for body in ("STOP", "help", "C", "confirmar", "hola"):
        assert rules.reply_language(body, "en") == "en", body
    assert rules.reply_language("STOP", "es") == "es"


def test_every_spanish_keyword_is_one_the_classifier_acts_on():
    assert rules.SPANISH_STOP_WORDS <= rules.STOP_WORDS
    assert rules.SPANISH_START_WORDS <= rules.START_WORDS
    assert rules.SPANISH_HELP_WORDS <= rules.HELP_WORDS
