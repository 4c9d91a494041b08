"""NCPDP Telecommunication D.0 records of a claim and its response, keyed by field id.

Pure. Each claim stores the request and the response it got as ``{"101-A1": "610014", ...}``
so the claim page shows what went over the wire and a switch adapter can serialise the same
dictionary into the fixed-width/segmented D.0 format without touching anything else. Money is
in dollars with cents ("12.34"), dates are CCYYMMDD, quantities are decimals ("30.000"), a
repeating field (420-DK, 511-FB) is a list.

Modelled (request): transaction header 101-A1 BIN, 102-A2 version (D0), 103-A3 transaction
code, 104-A4 PCN, 109-A9 count, 202-B2/201-B1 service provider (NPI), 401-D1 date of service;
insurance 302-C2 cardholder id, 301-C1 group; patient 304-C4 date of birth, 305-C5 gender;
claim 455-EM/402-D2 Rx number, 436-E1/407-D7 product (NDC), 442-E7 quantity, 403-D3 fill number,
405-D5 days supply, 406-D6 compound code, 408-D8 DAW, 414-DE date written, 415-DF refills
authorized, 354-NX/420-DK submission clarification codes, 461-EU/462-EV prior authorization;
pricing 409-D9 ingredient cost, 412-DC dispensing fee, 426-DQ U&C, 430-DU gross amount due;
prescriber 466-EZ/411-DB; COB 337-4C, 338-5C, 431-DV other payer amount paid, 352-NQ other payer
patient responsibility. Response: 501-F1 header status, 112-AN transaction status, 503-F3
authorization number, 510-FA/511-FB reject codes, 526-FQ additional message, 505-F5 patient
pay, 506-F6 ingredient cost paid, 507-F7 dispensing fee paid, 509-F9 total amount paid,
522-FM basis of reimbursement, 567-J6/439-E4/544-FY DUR responses.

Left out: the pharmacy-provider, clinical, compound, coupon, workers' comp, facility and
narrative segments; E1 eligibility; 433-DX patient paid amount submitted; sales tax and
incentive fee fields; DUR/PPS codes submitted (473-7E...); 308-C8 other coverage code.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.simulator import ClaimRequest, ClaimResponse, Transaction

VERSION = "D0"


def _date(value: dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{Decimal(value):.2f}"


def _quantity(value: Decimal) -> str:
    return f"{Decimal(value):.3f}"


def request_record(request: ClaimRequest) -> dict:
    """The D.0 request of a B1, B2 or B3, keyed by NCPDP field id."""
    record: dict = {
        "101-A1": request.bin,
        "102-A2": VERSION,
        "103-A3": str(request.transaction),
        "104-A4": request.pcn,
        "109-A9": "1",
        "202-B2": "01",
        "201-B1": request.pharmacy_npi,
        "401-D1": _date(request.date_of_service),
        "302-C2": request.member_id,
        "301-C1": request.group,
        "455-EM": "1",
        "402-D2": request.rx_number,
        "436-E1": "03",
        "407-D7": request.ndc,
        "403-D3": str(request.fill_number),
    }
    if request.transaction == Transaction.REVERSE:
        return record
    record.update(
        {
            "304-C4": _date(request.patient_date_of_birth),
            "305-C5": {"M": "1", "F": "2"}.get(request.patient_sex, "0"),
            "442-E7": _quantity(request.quantity),
            "405-D5": str(request.days_supply),
            "406-D6": "1",
            "408-D8": "0",
            "414-DE": _date(request.date_written),
            "415-DF": str(request.refills_authorized),
            "409-D9": _money(request.ingredient_cost_submitted),
            "412-DC": _money(request.dispensing_fee_submitted),
            "426-DQ": _money(request.usual_and_customary),
            "430-DU": _money(request.gross_amount_due),
            "466-EZ": "01",
            "411-DB": request.prescriber_npi,
        }
    )
    if request.scc_codes:
        record["354-NX"] = str(len(request.scc_codes))
        record["420-DK"] = [str(code) for code in request.scc_codes]
    if request.prior_auth_number:
        record["461-EU"] = "1"
        record["462-EV"] = request.prior_auth_number
    if request.coordination > 1 and request.other_payer_amount_paid is not None:
        record["337-4C"] = "1"
        record["338-5C"] = "01"
        record["431-DV"] = _money(request.other_payer_amount_paid)
        record["352-NQ"] = _money(request.other_payer_patient_responsibility)
    return record


def response_record(response: ClaimResponse) -> dict:
    """The D.0 response, keyed by NCPDP field id."""
    record: dict = {"501-F1": "A", "112-AN": str(response.status)}
    if response.reject_codes:
        record["510-FA"] = str(len(response.reject_codes))
        record["511-FB"] = list(response.reject_codes)
    if response.messages:
        record["526-FQ"] = " ".join(response.messages)[:200]
    if response.paid:
        record.update(
            {
                "503-F3": response.authorization_number,
                "505-F5": _money(response.patient_pay),
                "506-F6": _money(response.ingredient_cost_paid),
                "507-F7": _money(response.dispensing_fee_paid),
                "509-F9": _money(response.plan_pay),
                "522-FM": str(response.basis) if response.basis else "",
            }
        )
    if response.dur_warnings:
        record["567-J6"] = str(len(response.dur_warnings))
        record["439-E4"] = [w["code"] for w in response.dur_warnings]
        record["544-FY"] = [w["message"][:30] for w in response.dur_warnings]
    return record
