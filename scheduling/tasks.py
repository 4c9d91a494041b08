"""The sync engine's jobs: thin tasks that enter one tenant and run a sweep.

Beat (medsync/schedule.py, UTC) calls one `fan_out_*` task per sweep; it queues
the per-organization task for every active organization. Each sweep applies
each pharmacy's own time zone inside (scheduling.sweeps), so running hourly
covers every zone, and a daylight-saving day neither skips nor repeats work.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from medsync.jobs import TenantTask, fan_out
from scheduling import sweeps


@shared_task(base=TenantTask, name="scheduling.tasks.ensure_cycles")
def ensure_cycles(*, organization_id: str, partition: int = 0, partitions: int = 1) -> dict:
    return sweeps.cycles_ensure_upcoming(partition=partition, partitions=partitions).as_dict()


@shared_task(base=TenantTask, name="scheduling.tasks.open_prep")
def open_prep(*, organization_id: str) -> dict:
    return sweeps.cycles_open_prep().as_dict()


@shared_task(base=TenantTask, name="scheduling.tasks.open_prefill")
def open_prefill(*, organization_id: str) -> dict:
    return sweeps.cycles_open_prefill().as_dict()


@shared_task(base=TenantTask, name="scheduling.tasks.refresh_satellites")
def refresh_satellites(*, organization_id: str) -> dict:
    return sweeps.satellites_refresh().as_dict()


@shared_task(base=TenantTask, name="scheduling.tasks.check_pickups")
def check_pickups(*, organization_id: str) -> dict:
    return sweeps.cycles_check_pickups().as_dict()


@shared_task(base=TenantTask, name="scheduling.tasks.return_to_stock")
def return_to_stock(*, organization_id: str) -> dict:
    return sweeps.items_return_to_stock().as_dict()


@shared_task(base=TenantTask, name="scheduling.tasks.detect_replans")
def detect_replans(*, organization_id: str) -> dict:
    return sweeps.replans_detect().as_dict()


@shared_task(base=TenantTask, name="scheduling.tasks.hand_over_message_requests")
def hand_over_message_requests(*, organization_id: str) -> dict:
    return sweeps.message_requests_hand_over().as_dict()


# --- Beat entry points: one fan-out per sweep ------------------------------------------------
#
@shared_task(base=TenantTask, name="scheduling.tasks.remind_appointments")
def remind_appointments(*, organization_id: str) -> dict:
    return sweeps.appointments_remind().as_dict()


# SCHEDULING_SWEEP_PARTITIONS > 1 queues that many runs of a sweep per organization, for
# workers to share: the cycle sweep splits enrollments by id, the others claim disjoint
# rows with FOR UPDATE SKIP LOCKED.


def _partitions() -> int:
    return max(1, getattr(settings, "SCHEDULING_SWEEP_PARTITIONS", 1))


@shared_task(name="scheduling.tasks.fan_out_ensure_cycles", acks_late=True)
def fan_out_ensure_cycles() -> int:
    n = _partitions()
    return sum(fan_out(ensure_cycles, partition=k, partitions=n) for k in range(n))


@shared_task(name="scheduling.tasks.fan_out_open_prep", acks_late=True)
def fan_out_open_prep() -> int:
    return sum(fan_out(open_prep) for _ in range(_partitions()))


@shared_task(name="scheduling.tasks.fan_out_open_prefill", acks_late=True)
def fan_out_open_prefill() -> int:
    return sum(fan_out(open_prefill) for _ in range(_partitions()))


@shared_task(name="scheduling.tasks.fan_out_check_pickups", acks_late=True)
def fan_out_check_pickups() -> int:
    return fan_out(check_pickups)


@shared_task(name="scheduling.tasks.fan_out_return_to_stock", acks_late=True)
def fan_out_return_to_stock() -> int:
    return fan_out(return_to_stock)


@shared_task(name="scheduling.tasks.fan_out_detect_replans", acks_late=True)
def fan_out_detect_replans() -> int:
    return fan_out(detect_replans)


@shared_task(name="scheduling.tasks.fan_out_hand_over_message_requests", acks_late=True)
def fan_out_hand_over_message_requests() -> int:
    return fan_out(hand_over_message_requests)


@shared_task(name="scheduling.tasks.fan_out_refresh_satellites", acks_late=True)
def fan_out_refresh_satellites() -> int:
    return fan_out(refresh_satellites)


@shared_task(name="scheduling.tasks.fan_out_remind_appointments", acks_late=True)
def fan_out_remind_appointments() -> int:
    return fan_out(remind_appointments)
