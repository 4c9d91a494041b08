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
}
