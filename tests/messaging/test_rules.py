"""The pure rules: send window (DST included), limits, keywords, templates."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging import rules
from messaging.defaults import DEFAULT_TEMPLATES
from messaging.models import AUTOMATED_KINDS

CHICAGO = ZoneInfo("America/Chicago")
EIGHT, NINE_PM = time(8), time(21)


# --- The send window --------------------------------------------------------------------------


def test_inside_the_window_a_text_goes_now():
    moment = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 10:00 CST
    assert rules.next_window_start(moment, CHICAGO, EIGHT, NINE_PM) == moment


def test_after_nine_pm_a_text_waits_for_eight_next_morning():
    moment = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)  # 21:30 CST on the 3rd
    assert rules.next_window_start(moment, CHICAGO, EIGHT, NINE_PM) == datetime(
        2026, 3, 4, 14, 0, tzinfo=UTC
    )


def test_on_the_spring_forward_day_eight_am_is_one_hour_earlier_in_utc():
    # 2026-03-08: clocks go 02:00 CST -> 03:00 CDT. 8:00 CDT is 13:00 UTC (not 14:00).
    one_thirty_cst = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    opens = rules.next_window_start(one_thirty_cst, CHICAGO, EIGHT, NINE_PM)
    assert opens == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert opens.astimezone(CHICAGO).hour == 8


def test_on_the_fall_back_day_the_window_is_still_eight_to_nine_local():
    # 2026-11-01: clocks go 02:00 CDT -> 01:00 CST. 8:00 CST is 14:00 UTC.
    opens, closes = rules.local_window(date(2026, 11, 1), CHICAGO, EIGHT, NINE_PM)
    assert opens == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert closes == datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    assert closes - opens == timedelta(hours=13)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(
        ["America/Chicago", "America/New_York", "America/Phoenix", "Pacific/Honolulu"]
    ),
)
def test_the_next_window_start_is_always_inside_the_window_and_never_before_now(moment, zone):
    tz = ZoneInfo(zone)
    start = rules.next_window_start(moment, tz, EIGHT, NINE_PM)
    assert start >= moment
    assert rules.in_window(start, tz, EIGHT, NINE_PM)
    assert start - moment < timedelta(hours=12)


# --- Daily and weekly limits ------------------------------------------------------------------


def test_one_a_day_pushes_the_second_text_to_tomorrow():
    today = date(2026, 3, 3)
    assert rules.first_fitting_day(today, {today: 1}, daily=1, weekly=3) == today + timedelta(1)


def test_three_a_week_pushes_the_fourth_text_out_of_the_seven_day_window():
    monday = date(2026, 3, 2)
    counts = Counter({monday: 1, monday + timedelta(2): 1, monday + timedelta(4): 1})
    # Any day up to Sunday 3/8 shares a window with all three; Monday 3/9 does not.
    assert rules.first_fitting_day(monday + timedelta(5), counts, daily=1, weekly=3) == date(
        2026, 3, 9
    )
    assert rules.limit_reason(monday + timedelta(5), counts, daily=1, weekly=3) == "weekly_limit"
    assert rules.limit_reason(monday, counts, daily=1, weekly=3) == "daily_limit"


def test_a_text_planned_before_future_texts_must_not_overfill_their_week():
    # Texts already planned Wed 3/4, Thu 3/5, Fri 3/6: a new one on Tuesday 3/3 (or any day
    # up to 3/10) would make four in some 7-day window; Wednesday 3/11 is the first day
    # whose every window holds at most three.
    tue = date(2026, 3, 3)
    counts = Counter({tue + timedelta(1): 1, tue + timedelta(2): 1, tue + timedelta(3): 1})
    day = rules.first_fitting_day(tue, counts, daily=1, weekly=3)
    assert rules.fits(day, counts, daily=1, weekly=3)
    assert day == date(2026, 3, 11)


@settings(max_examples=200, deadline=None)
@given(
    requests=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=25),
    daily=st.integers(min_value=1, max_value=2),
    weekly=st.integers(min_value=1, max_value=5),
)
def test_placing_texts_one_by_one_never_breaks_a_limit(requests, daily, weekly):
    start = date(2026, 1, 1)
    counts: Counter = Counter()
    for offset in requests:
        day = rules.first_fitting_day(start + timedelta(offset), counts, daily=daily, weekly=weekly)
        assert day >= start + timedelta(offset)
        counts[day] += 1
    for day in counts:
        assert counts[day] <= daily
    first, last = min(counts), max(counts)
    for offset in range((last - first).days + 1):
        window_start = first + timedelta(offset)
        total = sum(counts[window_start + timedelta(i)] for i in range(7))
        assert total <= weekly


# --- Keywords ---------------------------------------------------------------------------------


def classify(body, prep=False, opted_out=False):
    return rules.classify(body, prep_question_open=prep, opted_out=opted_out).intent


def test_the_whole_stop_family_opts_out_in_any_case_and_punctuation():
    for word in [
        "STOP",
        "stop",
        "Stop.",
        " STOPALL ",
        "Unsubscribe",
        "CANCEL",
        "end",
        "QUIT",
        "Revoke",
        "OPTOUT",
        "opt out",
        "Opt-Out!",
        "please stop texting me",
        "Don't text me anymore",
        "PARAR",
    ]:
        assert classify(word) == rules.INTENT_OPT_OUT, word


def test_start_unstop_and_yes_opt_back_in_when_opted_out():
    for word in ["START", "unstop", "Yes"]:
        assert classify(word, opted_out=True) == rules.INTENT_OPT_IN, word
    assert classify("START") == rules.INTENT_OPT_IN


def test_yes_confirms_only_while_a_prep_question_is_open():
    assert classify("yes", prep=True) == rules.INTENT_CONFIRM
    assert classify("yes", prep=False) == rules.INTENT_NONE
    assert classify("YES", prep=True, opted_out=True) == rules.INTENT_OPT_IN


def test_c_confirm_x_change_help_info():
    assert classify("C") == rules.INTENT_CONFIRM
    assert classify("confirm") == rules.INTENT_CONFIRM
    assert classify("x") == rules.INTENT_CHANGE
    assert classify("Change") == rules.INTENT_CHANGE
    assert classify("HELP") == rules.INTENT_HELP
    assert classify("info") == rules.INTENT_HELP


def test_anything_else_is_for_the_inbox_and_a_hint_of_stop_is_flagged():
    assert classify("Can I pick up Friday instead?") == rules.INTENT_NONE
    flagged = rules.classify(
        "my doctor said to stop the blue pill", prep_question_open=False, opted_out=False
    )
    assert flagged.intent == rules.INTENT_NONE
    assert flagged.needs_review


# --- Templates --------------------------------------------------------------------------------


def test_every_built_in_template_passes_its_own_validation():
    for (kind, language), body in DEFAULT_TEMPLATES.items():
        check = rules.check_template(body, language=language, automated=kind in AUTOMATED_KINDS)
        assert check.ok, (kind, language, check.errors)
        assert check.longest_length <= 160


def test_a_variable_that_could_carry_a_drug_is_refused_by_name():
    check = rules.check_template(
        "{first_name}, your {drug_name} is ready. STOP to end", language="en", automated=True
    )
    assert not check.ok
    assert "{drug_name} could put a drug name" in check.errors["body"][0]


def test_unknown_variables_and_attribute_access_are_refused():
    assert not rules.check_template("Hi {nickname} STOP", language="en", automated=True).ok
    assert not rules.check_template(
        "Hi {first_name.__class__} STOP", language="en", automated=True
    ).ok
    assert not rules.check_template("Hi {first_name!r} STOP", language="en", automated=True).ok
    assert not rules.check_template("Hi {first_name STOP", language="en", automated=True).ok


def test_the_limit_is_checked_with_the_longest_values():
    body = "{first_name} " + "x" * 140 + " STOP"
    check = rules.check_template(body, language="en", automated=True)
    assert not check.ok
    assert "the limit is 160" in check.errors["body"][0]
    assert check.longest_length == 15 + 1 + 140 + 5


def test_automated_texts_need_the_opt_out_instruction():
    check = rules.check_template("{pharmacy_name}: refills ready.", language="en", automated=True)
    assert any("opt out" in e for e in check.errors["body"])
    assert rules.check_template("{pharmacy_name}: thanks.", language="en", automated=False).ok


def test_dates_and_phones_render_compactly():
    assert rules.format_date(date(2026, 3, 12), "en") == "Thu 3/12"
    assert rules.format_date(date(2026, 3, 12), "es") == "jue 12/3"
    assert rules.format_phone("+16085550134") == "(608) 555-0134"


def test_segments_count_gsm7_and_unicode():
    assert rules.segments("a" * 160) == ("GSM-7", 1)
    assert rules.segments("a" * 161) == ("GSM-7", 2)
    assert rules.segments("á" * 70) == ("UCS-2", 1)
    assert rules.segments("á" * 71) == ("UCS-2", 2)


def test_appointment_times_read_naturally_in_each_language():
    assert rules.format_datetime(datetime(2026, 3, 4, 0, 5), "en") == "Wed 3/4 12:05 AM"
    assert rules.format_datetime(datetime(2026, 3, 4, 12, 0), "en") == "Wed 3/4 12:00 PM"
    assert rules.format_datetime(datetime(2026, 3, 4, 14, 30), "es") == "mie 4/3 14:30"


def test_a_signing_link_counts_at_its_longest_in_the_160_check():
    long_wording = (
        "{pharmacy_name}: {first_name}, your pharmacy asks you to please review and sign "
        "this: {link} Reply STOP to end"
    )
    check = rules.check_template(long_wording, language="en", automated=True)
    assert not check.ok
    assert "the limit is 160" in check.errors["body"][0]
    assert rules.check_template(
        "{first_name}: sign at {link} STOP to end", language="en", automated=True
    ).ok
