"""The sweeps the jobs run: services over database state, one tenant at a time, each
pharmacy on its own local date (scheduling.tasks calls them; the shared claim-a-batch
machinery is runner.py, the raw SQL scheduling/sql.py).

    cycles_ensure_upcoming       (a) every enrolled patient has a cycle for the next anchor
    cycles_open_prep             (b) anchor - prep days: prep worklist + prep reminder request
    cycles_open_prefill          (c) anchor - pre-fill days: fill queue, renewals flagged
    cycles_check_pickups         (d) missed pickups, return-to-stock warnings, closing
    replans_detect                   new Rx / dose change / discontinuation -> proposed re-plan
    satellites_refresh           (e) Rx kept out of sync: own due date, prep and pre-fill days
    items_return_to_stock        (f) billed, not picked up, payer's window closed: B2 + returned
    message_requests_hand_over       recorded text requests -> messaging
    appointments_remind              booked appointment tomorrow (local) -> reminder text
"""

from scheduling.sweeps.cycles import cycles_ensure_upcoming
from scheduling.sweeps.handover import message_requests_hand_over
from scheduling.sweeps.pickups import cycles_check_pickups
from scheduling.sweeps.prefill import cycles_open_prefill
from scheduling.sweeps.prep import cycles_open_prep
from scheduling.sweeps.reminders import appointments_remind
from scheduling.sweeps.replans import replans_detect
from scheduling.sweeps.returns import items_return_to_stock
from scheduling.sweeps.runner import SweepResult
from scheduling.sweeps.satellites import satellites_refresh

__all__ = [
    "SweepResult",
    "appointments_remind",
    "cycles_check_pickups",
    "cycles_ensure_upcoming",
    "cycles_open_prefill",
    "cycles_open_prep",
    "items_return_to_stock",
    "message_requests_hand_over",
    "replans_detect",
    "satellites_refresh",
]
