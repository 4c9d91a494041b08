"""The one Celery beat schedule. All times are UTC.

Jobs here are sweeps over database state (see README "Jobs"): each is safe to
run twice and safe to miss once. Each pharmacy's local time is applied inside
the job, never by scheduling per time zone here.
"""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    "platform.clear-expired-sessions": {
        "task": "medsync.tasks.clear_expired_sessions",
        "schedule": crontab(minute=17, hour="*/6"),
    },
    # Messaging: send texts whose due time came (deferred, retried, held) and recover
    # claims of killed workers; each organization's dispatcher runs once per minute.
    "messaging.sweep-due": {
        "task": "messaging.sweep_due",
        "schedule": crontab(minute="*"),
    },
    # Imports: queue again a confirmed import whose worker was killed (nothing was written).
    "patients.sweep-imports": {
        "task": "patients.sweep_imports",
        "schedule": crontab(minute="*/5"),
    },
    # Webhooks: requeue deliveries whose retry came due (a lost job only delays one).
    "medsync.webhooks-requeue-due": {
        "task": "medsync.tasks.fan_out_webhooks_due",
        "schedule": crontab(minute="*"),
    },
    # Patients: open the yearly agreement re-sign reminders (a month ahead), once a day.
    "patients.agreement-reminders": {
        "task": "patients.fan_out_agreement_reminders",
        "schedule": crontab(minute=40, hour=9),
    },
    # Scheduling (the sync engine): one fan-out per sweep, hourly so every pharmacy's local
    # midnight is caught within the hour; each sweep compares local dates, so a 23- or
    # 25-hour day neither skips nor repeats work. Order within the hour: cycles, re-plans,
    # prep, pre-fill, pickups; message requests are handed over on commit and every 10 min.
    "scheduling.ensure-cycles": {
        "task": "scheduling.tasks.fan_out_ensure_cycles",
        "schedule": crontab(minute=2),
    },
    "scheduling.detect-replans": {
        "task": "scheduling.tasks.fan_out_detect_replans",
        "schedule": crontab(minute=6),
    },
    "scheduling.open-prep": {
        "task": "scheduling.tasks.fan_out_open_prep",
        "schedule": crontab(minute=10),
    },
    "scheduling.open-prefill": {
        "task": "scheduling.tasks.fan_out_open_prefill",
        "schedule": crontab(minute=14),
    },
    "scheduling.refresh-satellites": {
        "task": "scheduling.tasks.fan_out_refresh_satellites",
        "schedule": crontab(minute=16),
    },
    "scheduling.check-pickups": {
        "task": "scheduling.tasks.fan_out_check_pickups",
        "schedule": crontab(minute=18),
    },
    # Return to stock: paid claims of fills not picked up are reversed (B2) on the local day
    # the payer's window closes; hourly so each pharmacy's midnight is caught.
    "scheduling.return-to-stock": {
        "task": "scheduling.tasks.fan_out_return_to_stock",
        "schedule": crontab(minute=20),
    },
    # Appointment reminders: the day before, on the pharmacy's local date; hourly so every
    # zone is caught (the text itself waits for the patient's quiet hours in messaging).
    "scheduling.remind-appointments": {
        "task": "scheduling.tasks.fan_out_remind_appointments",
        "schedule": crontab(minute=22),
    },
    "scheduling.hand-over-messages": {
        "task": "scheduling.tasks.fan_out_hand_over_message_requests",
        "schedule": crontab(minute="*/10"),
    },
    # Reports: the cached adherence outcomes (PDC before/since enrollment, not enrolled),
    # recomputed nightly per organization (idempotent: each run replaces the cache).
    "reports.refresh-outcomes": {
        "task": "reports.fan_out_refresh_outcomes",
        "schedule": crontab(minute=40, hour=7),
    },
}
