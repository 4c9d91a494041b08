"""The one adjudication gateway: submit (B1), reverse (B2), rebill (B3).

Pure: the services build a ``ClaimRequest`` (billing.simulator) and hand it to the gateway;
nothing else in MedSync talks to a processor. Today the only gateway is the simulator, which
adjudicates with the plan data MedSync holds (``PlanData``: rules, product lists, the member's
cost sharing) and the payer's view of earlier fills (``history``).

A real switch adapter (README "Claims") implements the same three methods: it serialises
``billing.ncpdp.request_record(request)`` into D.0 segments, sends it over the switch's
connection (TLS/VPN, the pharmacy's NCPDP/NPI and the vendor certification id in 110-AK),
waits for the response synchronously (switches answer in seconds), parses it into a
``ClaimResponse`` and ignores ``plan`` and ``history`` (the processor knows them itself).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Protocol

from billing import simulator
from billing.simulator import ClaimRequest, ClaimResponse, PlanData, PriorFill


class AdjudicationGateway(Protocol):
    name: str

    def submit(
        self, request: ClaimRequest, *, plan: PlanData, history: tuple[PriorFill, ...]
    ) -> ClaimResponse: ...

    def reverse(self, request: ClaimRequest, *, paid: bool) -> ClaimResponse: ...

    def rebill(
        self, request: ClaimRequest, *, plan: PlanData, history: tuple[PriorFill, ...]
    ) -> ClaimResponse: ...


class SimulatorGateway:
    """Adjudicates locally with billing.simulator; no processor is called."""

    name = "simulator"

    def submit(
        self, request: ClaimRequest, *, plan: PlanData, history: tuple[PriorFill, ...] = ()
    ) -> ClaimResponse:
        response = simulator.adjudicate(request, plan, history)
        if response.paid:
            response = replace(response, authorization_number=_authorization(request))
        return response

    def reverse(self, request: ClaimRequest, *, paid: bool) -> ClaimResponse:
        return simulator.reverse(request, paid=paid)

    def rebill(
        self, request: ClaimRequest, *, plan: PlanData, history: tuple[PriorFill, ...] = ()
    ) -> ClaimResponse:
        return self.submit(request, plan=plan, history=history)


def _authorization(request: ClaimRequest) -> str:
    text = f"{request.bin}|{request.rx_number}|{request.date_of_service}|{request.transaction}"
    return "SIM" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12].upper()


GATEWAYS: dict[str, AdjudicationGateway] = {"simulator": SimulatorGateway()}


def gateway(name: str = "simulator") -> AdjudicationGateway:
    return GATEWAYS[name]
