"""A sync program in two tenants for the operations reports: Maple's two pharmacies and
Birch, enrolled through scheduling's own services, then moved along the fill queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import time_machine

from medsync.models import MembershipPharmacy
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from messaging.models import Conversation, Direction, Message, MessageKind, MessageStatus
from scheduling.models import (
    CycleItem,
    FlagReason,
    FollowUpTask,
    ItemState,
    SyncCycle,
    TaskKind,
)
from tests.factories import MembershipFactory, UserFactory
from tests.scheduling.conftest import enroll, make_patient
from tests.scheduling.test_sweeps import at

NOW = at(2026, 3, 2, 15)  # 9:00 in Madison
TODAY = dt.date(2026, 3, 2)


@dataclass
class Program:
    main: list = field(default_factory=list)  # enrollments at Maple Main St
    elm: list = field(default_factory=list)  # at Maple Elm Ave
    birch: list = field(default_factory=list)


def limited_pharmacist(tenant, pharmacy):
    """A pharmacist of `tenant` who sees only `pharmacy`."""
    user = UserFactory()
    membership = MembershipFactory(
        organization=tenant.organization,
        user=user,
        role=Role.PHARMACIST,
        limited_to_pharmacies=True,
    )
    MembershipPharmacy.objects.create(
        organization=tenant.organization, membership=membership, pharmacy=pharmacy
    )
    return user


def build_program(maple, birch) -> Program:
    main_st, elm_ave = maple.pharmacies
    program = Program()
    with time_machine.travel(NOW, tick=False):
        for anchor, dues in (
            (dt.date(2026, 3, 4), [dt.date(2026, 3, 4), dt.date(2026, 3, 4)]),
            (dt.date(2026, 3, 12), [dt.date(2026, 3, 5), dt.date(2026, 3, 12)]),
            (dt.date(2026, 3, 2), [dt.date(2026, 3, 2), dt.date(2026, 3, 2)]),
        ):
            synced = make_patient(main_st, due_dates=dues)
            program.main.append(enroll(main_st, synced, anchor=anchor))
        synced = make_patient(elm_ave, due_dates=[dt.date(2026, 3, 6), dt.date(2026, 3, 6)])
        program.elm.append(enroll(elm_ave, synced, anchor=dt.date(2026, 3, 6)))
        (birch_pharmacy,) = birch.pharmacies
        synced = make_patient(birch_pharmacy, due_dates=[dt.date(2026, 3, 3)] * 3)
        program.birch.append(enroll(birch_pharmacy, synced, anchor=dt.date(2026, 3, 3)))
    with tenant_scope(maple.organization):
        first, second, today_anchor = program.main
        items = list(CycleItem.objects.filter(cycle__enrollment=first).order_by("id"))
        CycleItem.objects.filter(pk=items[0].pk).update(
            state=ItemState.FLAGGED, flag_reason=FlagReason.CLAIM_REJECTED
        )
        CycleItem.objects.filter(pk=items[1].pk).update(state=ItemState.FILLED, filled_at=NOW)
        cycle = SyncCycle.objects.get(enrollment=today_anchor)
        FollowUpTask.objects.create(
            cycle=cycle,
            patient=cycle.patient,
            kind=TaskKind.RENEWAL_NEEDED,
            due_on=TODAY,
            created_at=NOW,
        )
        SyncCycle.objects.filter(pk=cycle.pk).update(needs_renewal=True)
        SyncCycle.objects.filter(enrollment=second).update(prep_open=True, prep_due_on=TODAY)
        conversation = Conversation.objects.create(
            phone=cycle.patient.phone, patient=cycle.patient, pharmacy=main_st
        )
        Message.objects.create(
            conversation=conversation,
            patient=cycle.patient,
            pharmacy=main_st,
            direction=Direction.INBOUND,
            kind=MessageKind.INBOUND,
            body="Can I come Friday?",
            status=MessageStatus.RECEIVED,
        )
    with tenant_scope(birch.organization):
        CycleItem.objects.filter(cycle__enrollment=program.birch[0]).update(
            state=ItemState.FLAGGED, flag_reason=FlagReason.OUT_OF_STOCK
        )
    return program
