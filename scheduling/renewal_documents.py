"""Renewal requests as documents: a fax-ready PDF per prescriber (fpdf2) and an export in the
shape of an NCPDP SCRIPT RxRenewalRequest (the fields, as CSV rows or JSON; not a live
SCRIPT connection). Plain dataclasses in, bytes out: no Django here.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field

from fpdf import FPDF


@dataclass(frozen=True)
class Party:
    """A pharmacy or a prescriber: who sends, who receives."""

    name: str
    npi: str = ""
    ncpdp_id: str = ""
    address: str = ""
    phone: str = ""
    fax: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class PatientInfo:
    first_name: str
    last_name: str
    date_of_birth: dt.date
    sex: str
    phone: str
    address: str


@dataclass(frozen=True)
class RenewalLine:
    """One medicine to renew, with what the prescriber's office needs to approve it."""

    request_id: str
    rx_number: str
    drug_name: str
    ndc: str
    strength: str
    sig: str
    quantity: str
    days_supply: int
    written_date: dt.date
    last_fill_date: dt.date | None
    last_fill_quantity: str
    refills_requested: int
    reason: str


@dataclass(frozen=True)
class RenewalPacket:
    """Everything sent to one prescriber for one patient's cycle."""

    message_id: str
    created_on: dt.date
    pharmacy: Party
    prescriber: Party
    patient: PatientInfo
    lines: list[RenewalLine] = field(default_factory=list)


def _latin(text: object) -> str:
    """The PDF core fonts are Latin-1: anything else becomes '?', never an error."""
    return str(text if text is not None else "").encode("latin-1", "replace").decode("latin-1")


def _date(value: dt.date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else "none on file"


class _Pdf(FPDF):
    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(
            0,
            6,
            _latin(f"Confidential health information. Page {self.page_no()}/{{nb}}"),
            align="C",
        )


def renewal_pdf(packet: RenewalPacket) -> bytes:
    """A one-prescriber fax: pharmacy, patient, each medicine (last fill, sig, quantity,
    refills requested) and a signature block per medicine."""
    pdf = _Pdf(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text: str, *, size: int = 10, style: str = "", height: float = 5) -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.multi_cell(width, height, _latin(text), new_x="LMARGIN", new_y="NEXT")

    line("Prescription Renewal Request", size=16, style="B", height=8)
    line(f"Date: {_date(packet.created_on)}    Request: {packet.message_id}", size=9)
    pdf.ln(2)
    pharmacy, prescriber, patient = packet.pharmacy, packet.prescriber, packet.patient
    line("From (pharmacy)", style="B")
    line(pharmacy.name)
    line(f"NCPDP ID: {pharmacy.ncpdp_id or '-'}    NPI: {pharmacy.npi or '-'}")
    line(pharmacy.address)
    line(f"Phone: {pharmacy.phone or '-'}    Fax: {pharmacy.fax or '-'}")
    pdf.ln(2)
    line("To (prescriber)", style="B")
    line(prescriber.name)
    line(f"NPI: {prescriber.npi or '-'}")
    line(f"Phone: {prescriber.phone or '-'}    Fax: {prescriber.fax or '-'}")
    pdf.ln(2)
    line("Patient", style="B")
    line(f"{patient.last_name}, {patient.first_name}")
    line(f"Date of birth: {_date(patient.date_of_birth)}    Sex: {patient.sex}")
    line(f"Phone: {patient.phone}")
    if patient.address:
        line(patient.address)
    pdf.ln(3)
    for number, item in enumerate(packet.lines, start=1):
        if pdf.get_y() > pdf.h - 80:
            pdf.add_page()
        line(f"{number}. {item.drug_name} {item.strength}".strip(), size=11, style="B")
        line(f"NDC: {item.ndc}    Rx #: {item.rx_number}    Written: {_date(item.written_date)}")
        line(f"Sig: {item.sig}")
        line(f"Quantity: {item.quantity}    Days supply: {item.days_supply}")
        line(
            f"Last fill: {_date(item.last_fill_date)}"
            + (f" (quantity {item.last_fill_quantity})" if item.last_fill_date else "")
        )
        line(f"Refills requested: {item.refills_requested}")
        line(f"Why: {item.reason}", size=9)
        pdf.ln(1)
        line("[ ] Approved as written    [ ] Approved with changes: ____________________")
        line("[ ] Denied. Reason: ________________________________________________")
        pdf.ln(4)
        line("Prescriber signature: ______________________________   Date: ____________")
        pdf.ln(4)
    line(
        "Please fax the signed page back to the pharmacy, or send a new prescription "
        "electronically. Thank you.",
        size=9,
    )
    return bytes(pdf.output())


SCRIPT_COLUMNS = [
    "MessageID",
    "SentTime",
    "PharmacyNCPDPID",
    "PharmacyNPI",
    "PharmacyStoreName",
    "PharmacyPhone",
    "PrescriberNPI",
    "PrescriberLastName",
    "PrescriberFirstName",
    "PrescriberPhone",
    "PrescriberFax",
    "PatientLastName",
    "PatientFirstName",
    "PatientGender",
    "PatientDateOfBirth",
    "RxReferenceNumber",
    "DrugDescription",
    "ProductCode",
    "ProductCodeQualifier",
    "QuantityValue",
    "DaysSupply",
    "WrittenDate",
    "LastFillDate",
    "Sig",
    "NumberOfRefillsRequested",
    "Note",
]


def _script_gender(sex: str) -> str:
    return {"F": "F", "M": "M"}.get(sex, "U")


def script_rows(packets: list[RenewalPacket], *, sent_time: dt.datetime) -> list[dict]:
    """One flat row per medicine, named like the RxRenewalRequest fields (SCRIPT 2017071)."""
    rows = []
    for packet in packets:
        for item in packet.lines:
            rows.append(
                {
                    "MessageID": item.request_id,
                    "SentTime": sent_time.isoformat(timespec="seconds"),
                    "PharmacyNCPDPID": packet.pharmacy.ncpdp_id,
                    "PharmacyNPI": packet.pharmacy.npi,
                    "PharmacyStoreName": packet.pharmacy.name,
                    "PharmacyPhone": packet.pharmacy.phone,
                    "PrescriberNPI": packet.prescriber.npi,
                    "PrescriberLastName": packet.prescriber.last_name,
                    "PrescriberFirstName": packet.prescriber.first_name,
                    "PrescriberPhone": packet.prescriber.phone,
                    "PrescriberFax": packet.prescriber.fax,
                    "PatientLastName": packet.patient.last_name,
                    "PatientFirstName": packet.patient.first_name,
                    "PatientGender": _script_gender(packet.patient.sex),
                    "PatientDateOfBirth": packet.patient.date_of_birth.isoformat(),
                    "RxReferenceNumber": item.rx_number,
                    "DrugDescription": f"{item.drug_name} {item.strength}".strip(),
                    "ProductCode": item.ndc,
                    "ProductCodeQualifier": "ND",
                    "QuantityValue": item.quantity,
                    "DaysSupply": item.days_supply,
                    "WrittenDate": item.written_date.isoformat(),
                    "LastFillDate": item.last_fill_date.isoformat() if item.last_fill_date else "",
                    "Sig": item.sig,
                    "NumberOfRefillsRequested": item.refills_requested,
                    "Note": item.reason,
                }
            )
    return rows


def script_json(packets: list[RenewalPacket], *, sent_time: dt.datetime) -> bytes:
    """Nested like the SCRIPT message: Header, Body.RxRenewalRequest per medicine."""
    messages = []
    for row, packet_item in zip(
        script_rows(packets, sent_time=sent_time),
        [(p, i) for p in packets for i in p.lines],
        strict=True,
    ):
        packet, item = packet_item
        messages.append(
            {
                "Header": {"MessageID": row["MessageID"], "SentTime": row["SentTime"]},
                "Body": {
                    "RxRenewalRequest": {
                        "Pharmacy": {
                            "Identification": {
                                "NCPDPID": row["PharmacyNCPDPID"],
                                "NPI": row["PharmacyNPI"],
                            },
                            "BusinessName": row["PharmacyStoreName"],
                            "CommunicationNumbers": {"PrimaryTelephone": row["PharmacyPhone"]},
                        },
                        "Prescriber": {
                            "Identification": {"NPI": row["PrescriberNPI"]},
                            "Name": {
                                "LastName": row["PrescriberLastName"],
                                "FirstName": row["PrescriberFirstName"],
                            },
                            "CommunicationNumbers": {
                                "PrimaryTelephone": row["PrescriberPhone"],
                                "Fax": row["PrescriberFax"],
                            },
                        },
                        "Patient": {
                            "Name": {
                                "LastName": row["PatientLastName"],
                                "FirstName": row["PatientFirstName"],
                            },
                            "Gender": row["PatientGender"],
                            "DateOfBirth": {"Date": row["PatientDateOfBirth"]},
                        },
                        "MedicationDispensed": {
                            "DrugDescription": row["DrugDescription"],
                            "DrugCoded": {
                                "ProductCode": {"Code": row["ProductCode"], "Qualifier": "ND"}
                            },
                            "Quantity": {"Value": row["QuantityValue"]},
                            "DaysSupply": row["DaysSupply"],
                            "WrittenDate": {"Date": row["WrittenDate"]},
                            "LastFillDate": {"Date": row["LastFillDate"]},
                            "Sig": {"SigText": row["Sig"]},
                            "NumberOfRefills": row["NumberOfRefillsRequested"],
                            "Note": row["Note"],
                        },
                        "RxReferenceNumber": item.rx_number,
                        "PrescriberOrderNumber": packet.message_id,
                    }
                },
            }
        )
    return json.dumps({"messages": messages}, indent=2).encode()


def script_csv(packets: list[RenewalPacket], *, sent_time: dt.datetime, writer_factory) -> bytes:
    """The rows as CSV through `writer_factory(stream)` (the project's formula-safe writer)."""
    stream = io.StringIO()
    writer = writer_factory(stream)
    writer.writerow(SCRIPT_COLUMNS)
    for row in script_rows(packets, sent_time=sent_time):
        writer.writerow([row[column] for column in SCRIPT_COLUMNS])
    return stream.getvalue().encode()
