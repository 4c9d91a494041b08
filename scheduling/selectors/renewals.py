"""Reads of renewal requests: a cycle's requests and the documents sent to prescribers."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from patients.models import Fill
from scheduling.models import RenewalRequest, SyncCycle
from scheduling.renewal_documents import Party, PatientInfo, RenewalLine, RenewalPacket


def renewals_of_cycle(cycle: SyncCycle) -> QuerySet[RenewalRequest]:
    return RenewalRequest.objects.filter(cycle=cycle).select_related(
        "prescription__drug", "prescriber", "new_prescription"
    )


def _prescriber_key(renewal: RenewalRequest) -> str:
    """The prescriber's public id, or "none" for requests without a prescriber on file."""
    return str(renewal.prescriber.public_id) if renewal.prescriber else "none"


def _address(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def renewal_packets(
    cycle: SyncCycle, *, today: dt.date, prescriber_id: str | None = None
) -> list[RenewalPacket]:
    """One packet per prescriber (three queries whatever the number of medicines)."""
    renewals = list(renewals_of_cycle(cycle))
    if prescriber_id is not None:
        renewals = [
            r
            for r in renewals
            if str(r.prescriber.public_id if r.prescriber else "") == prescriber_id
        ]
    last_fills = {
        fill.prescription_id: fill
        for fill in Fill.objects.filter(prescription_id__in=[r.prescription_id for r in renewals])
        .order_by("prescription_id", "-fill_date", "-id")
        .distinct("prescription_id")
    }
    pharmacy, patient = cycle.pharmacy, cycle.patient
    sender = Party(
        name=pharmacy.name,
        npi=pharmacy.npi,
        ncpdp_id=pharmacy.ncpdp_id,
        address=_address(
            pharmacy.address_line1,
            pharmacy.address_line2,
            pharmacy.city,
            f"{pharmacy.state} {pharmacy.postal_code}".strip(),
        ),
        phone=pharmacy.phone,
    )
    patient_info = PatientInfo(
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
        sex=patient.sex,
        phone=patient.phone,
        address=_address(
            patient.address_line1,
            patient.address_line2,
            patient.city,
            f"{patient.state} {patient.postal_code}".strip(),
        ),
    )
    packets: dict[int | None, RenewalPacket] = {}
    for renewal in renewals:
        prescriber = renewal.prescriber
        if renewal.prescriber_id not in packets:
            packets[renewal.prescriber_id] = RenewalPacket(
                message_id=f"{cycle.public_id}-{prescriber.public_id if prescriber else 'none'}",
                created_on=today,
                pharmacy=sender,
                prescriber=Party(
                    name=f"Dr. {prescriber.first_name} {prescriber.last_name}"
                    if prescriber
                    else "Prescriber not on file",
                    npi=prescriber.npi if prescriber else "",
                    phone=prescriber.phone if prescriber else "",
                    fax=prescriber.fax if prescriber else "",
                    first_name=prescriber.first_name if prescriber else "",
                    last_name=prescriber.last_name if prescriber else "",
                ),
                patient=patient_info,
            )
        rx, fill = renewal.prescription, last_fills.get(renewal.prescription_id)
        packets[renewal.prescriber_id].lines.append(
            RenewalLine(
                request_id=str(renewal.public_id),
                rx_number=rx.rx_number,
                drug_name=rx.drug.name,
                ndc=rx.drug.ndc,
                strength=rx.drug.strength,
                sig=rx.sig_text,
                quantity=f"{rx.quantity_per_fill.normalize():f}",
                days_supply=rx.days_supply,
                written_date=rx.written_date,
                last_fill_date=fill.fill_date if fill else None,
                last_fill_quantity=f"{fill.quantity.normalize():f}" if fill else "",
                refills_requested=renewal.refills_requested,
                reason=renewal.reason,
            )
        )
    return list(packets.values())
