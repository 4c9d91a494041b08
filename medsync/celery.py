"""The Celery app. Broker: Redis. Configuration: CELERY_* in settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medsync.settings")

# DjangoTask adds delay_on_commit / apply_async_on_commit to every task.
app = Celery("medsync", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
