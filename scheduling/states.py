"""The cycle and cycle-item state machine, in one table.

Every move of a cycle or of one of its fills is named here with the states it may start
from and the state it ends in; the services, the sweeps and the SQL the sweeps run
(scheduling/sql.py, where the states travel as query parameters) all read it, so a status
value or a transition is defined once. The groups below say which cycles count as open,
not yet filling, past their pickup, and so on.
"""

from __future__ import annotations

from typing import NamedTuple

from scheduling.models import CloseReason, CycleStatus, ItemState


class Transition(NamedTuple):
    """A move allowed from any of `sources` to `target`."""

    sources: tuple[str, ...]
    target: str


# --- Groups of cycle statuses ---

# Cycles still ahead of their pickup: a re-plan may rebuild their items.
CYCLE_NOT_YET_FILLING = (CycleStatus.SCHEDULED, CycleStatus.PREP_DUE, CycleStatus.CONTACTED)
CYCLE_OPEN = (
    *CYCLE_NOT_YET_FILLING,
    CycleStatus.FILLING,
    CycleStatus.READY,
    CycleStatus.PARTLY_PICKED_UP,
    CycleStatus.MISSED,
)
# A prep answer is still taken (every open cycle but a missed one).
CYCLE_PREP_ANSWERABLE = tuple(s for s in CYCLE_OPEN if s != CycleStatus.MISSED)
# Past the pickup day with fills possibly still on the shelf.
CYCLE_PAST_PICKUP = (CycleStatus.MISSED, CycleStatus.PARTLY_PICKED_UP)
# A pickup from a cycle in one of these leaves it partly picked up.
CYCLE_PARTLY_PICKED_UP_FROM = (
    CycleStatus.READY,
    CycleStatus.MISSED,
    CycleStatus.PARTLY_PICKED_UP,
)
# A cycle closed for one of these reasons may come back on its anchor (its slot is reused).
REOPENABLE = (CloseReason.PAUSED, CloseReason.REPLANNED)

CYCLE_TRANSITIONS: dict[str, Transition] = {
    # the prep sweep: the prep day has come
    "open_prep": Transition((CycleStatus.SCHEDULED,), CycleStatus.PREP_DUE),
    # a prep contact recorded (by a person or a text)
    "contact": Transition(CYCLE_NOT_YET_FILLING, CycleStatus.CONTACTED),
    # the pre-fill sweep: the fills join the queue
    "open_prefill": Transition(CYCLE_NOT_YET_FILLING, CycleStatus.FILLING),
    # every fill verified
    "ready": Transition((CycleStatus.FILLING,), CycleStatus.READY),
    # the pickup sweep: not picked up in time
    "miss": Transition((CycleStatus.FILLING, CycleStatus.READY), CycleStatus.MISSED),
    # the pickup sweep: picked up and the anchor has passed
    "close_picked_up": Transition((CycleStatus.PICKED_UP,), CycleStatus.CLOSED),
    # the pickup sweep: the next anchor came, nothing left on the shelf
    "retire": Transition(CYCLE_PAST_PICKUP, CycleStatus.CLOSED),
    # a pause, a disenrollment or a re-plan closes cycles not yet filling
    "withdraw": Transition(CYCLE_NOT_YET_FILLING, CycleStatus.CLOSED),
    # nothing waits any more (picked up or returned to stock)
    "settle": Transition(CYCLE_OPEN, CycleStatus.CLOSED),
    # a closed slot (REOPENABLE) taken again by a new plan or the cycle sweep
    "reopen": Transition((CycleStatus.CLOSED,), CycleStatus.SCHEDULED),
}

# --- Groups of item states ---

ITEM_IN_QUEUE = (ItemState.PLANNED, ItemState.BILLED, ItemState.FILLED, ItemState.FLAGGED)
ITEM_DONE = (ItemState.PICKED_UP, ItemState.RETURNED, ItemState.SKIPPED)
# Billed or filled and not handed over: on the shelf, may be returned to stock.
ITEM_ON_SHELF = (ItemState.BILLED, ItemState.FILLED, ItemState.READY)
# Never started: dropped when a cycle closes or lapses.
ITEM_NOT_STARTED = (ItemState.PLANNED, ItemState.FLAGGED)
# Dropped from a closed cycle that comes back (when no fill was made for them).
ITEM_DROPPED_ON_REOPEN = (ItemState.PLANNED, ItemState.SKIPPED)

# The fill queue's actions (cycle_item_advance), by name as the pages post them. Starting a
# fill (its claim) and working a reject are services.claims (bill, resubmit, next_anchor).
QUEUE_ACTIONS = ("fill", "verify", "flag", "unflag", "skip")

ITEM_TRANSITIONS: dict[str, Transition] = {
    # started: its claim paid
    "bill": Transition((ItemState.PLANNED,), ItemState.BILLED),
    # its claim rejected: flagged with the reject until a fix is resubmitted
    "bill_rejected": Transition((ItemState.PLANNED, ItemState.FLAGGED), ItemState.FLAGGED),
    # a reject worked (SCC, a cut, a PA, the other payer) and paid
    "resubmit": Transition((ItemState.PLANNED, ItemState.FLAGGED), ItemState.BILLED),
    # refill too soon with no override: the next anchor fills it
    "next_anchor": Transition((ItemState.PLANNED, ItemState.FLAGGED), ItemState.SKIPPED),
    "fill": Transition((ItemState.PLANNED, ItemState.BILLED), ItemState.FILLED),
    "verify": Transition((ItemState.FILLED,), ItemState.READY),
    "flag": Transition((ItemState.PLANNED, ItemState.BILLED, ItemState.FILLED), ItemState.FLAGGED),
    "unflag": Transition((ItemState.FLAGGED,), ItemState.PLANNED),
    "skip": Transition((ItemState.PLANNED, ItemState.BILLED, ItemState.FLAGGED), ItemState.SKIPPED),
    # the pre-fill sweep flags fills a person must look at (only if not started)
    "flag_due": Transition((ItemState.PLANNED,), ItemState.FLAGGED),
    "pick_up": Transition((ItemState.READY,), ItemState.PICKED_UP),
    "return_to_stock": Transition(ITEM_ON_SHELF, ItemState.RETURNED),
    # a cycle closed (pause, disenrollment, re-plan): fills not started are dropped
    "withdraw": Transition((ItemState.PLANNED,), ItemState.SKIPPED),
    # a lapsed cycle or a re-plan dropping a stopped prescription
    "drop": Transition(ITEM_NOT_STARTED, ItemState.SKIPPED),
}
