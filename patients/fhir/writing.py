"""A patient's record out as a FHIR R4 Bundle (collection): Patient, Coverage, Practitioner,
MedicationRequest and MedicationDispense, each checked against its R4 structure before it
leaves (fhir.resources, R4B models). The shapes are the ones reading.py takes in, so an
exported bundle imports back unchanged."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from patients.fhir import codes
from patients.models import Coverage, Fill, Patient, Prescription


def _number(value: Decimal | int | None):
    if value is None:
        return None
    value = Decimal(value).normalize()
    return int(value) if value == value.to_integral() else float(value)


def _ref(obj) -> dict:
    return {"reference": f"urn:uuid:{obj.public_id}"}


def _ndc(code: str) -> str:
    return f"{code[:5]}-{code[5:9]}-{code[9:]}" if len(code) == 11 else code


def _patient(p: Patient) -> dict:
    address = {
        "line": [line for line in (p.address_line1, p.address_line2) if line],
        "city": p.city,
        "state": p.state,
        "postalCode": p.postal_code,
    }
    telecom = [{"system": "phone", "value": p.phone}]
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    return {
        "resourceType": "Patient",
        "id": str(p.public_id),
        "identifier": [
            {
                "type": {"coding": [{"system": codes.IDENTIFIER_TYPE, "code": "MR"}]},
                "value": p.mrn,
            }
        ],
        "active": p.status == "active",
        "name": [{"family": p.last_name, "given": [p.first_name]}],
        "gender": codes.SEX_TO_GENDER.get(p.sex, "unknown"),
        "birthDate": p.date_of_birth.isoformat(),
        "telecom": telecom,
        "address": [{k: v for k, v in address.items() if v}] if any(address.values()) else [],
    }


def _coverage(c: Coverage, patient: Patient) -> dict:
    classes = [
        {"type": {"coding": [{"system": codes.COVERAGE_CLASS, "code": code}]}, "value": value}
        for code, value in (("rxbin", c.bin), ("rxpcn", c.pcn), ("rxgroup", c.group))
        if value
    ]
    costs = []
    if c.copay_amount is not None:
        costs.append(
            {
                "type": {"coding": [{"system": codes.COPAY_TYPE, "code": "copay"}]},
                "valueMoney": {"value": _number(c.copay_amount), "currency": "USD"},
            }
        )
    if c.coinsurance_percent is not None:
        costs.append(
            {
                "type": {"coding": [{"system": codes.COPAY_TYPE, "code": "copaypct"}]},
                "valueQuantity": {"value": _number(c.coinsurance_percent), "unit": "%"},
            }
        )
    period = {"start": c.effective_from.isoformat()}
    if c.effective_to:
        period["end"] = c.effective_to.isoformat()
    resource = {
        "resourceType": "Coverage",
        "id": str(c.public_id),
        "status": "active",
        "type": {"coding": [{"system": codes.PLAN_TYPE, "code": c.plan_type}]},
        "beneficiary": _ref(patient),
        "payor": [{"display": c.payer_name}],
        "period": period,
        "order": c.priority,
        "class": classes,
        "costToBeneficiary": costs,
    }
    if c.member_id:
        resource["subscriberId"] = c.member_id
    return {k: v for k, v in resource.items() if v != []}


def _practitioner(prescriber) -> dict:
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", prescriber.phone), ("fax", prescriber.fax))
        if value
    ]
    resource = {
        "resourceType": "Practitioner",
        "id": str(prescriber.public_id),
        "identifier": [{"system": codes.NPI, "value": prescriber.npi}],
        "name": [{"family": prescriber.last_name, "given": [prescriber.first_name]}],
    }
    if telecom:
        resource["telecom"] = telecom
    return resource


def _medication(rx: Prescription) -> dict:
    return {"coding": [{"system": codes.NDC, "code": _ndc(rx.drug.ndc)}], "text": rx.drug.name}


def _request(rx: Prescription, patient: Patient) -> dict:
    resource = {
        "resourceType": "MedicationRequest",
        "id": str(rx.public_id),
        "identifier": [{"system": codes.RX_NUMBER, "value": rx.rx_number}],
        "status": codes.STATUS_TO_REQUEST.get(rx.status, "unknown"),
        "intent": "order",
        "subject": _ref(patient),
        "medicationCodeableConcept": _medication(rx),
        "authoredOn": rx.written_date.isoformat(),
        "dosageInstruction": [
            {
                "text": rx.sig_text,
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": _number(rx.daily_dose)}}],
            }
        ],
        "dispenseRequest": {
            "validityPeriod": {
                "start": rx.written_date.isoformat(),
                "end": rx.expiration_date.isoformat(),
            },
            "numberOfRepeatsAllowed": rx.refills_authorized,
            "quantity": {"value": _number(rx.quantity_per_fill)},
            "expectedSupplyDuration": {
                "value": rx.days_supply,
                "unit": "days",
                "system": codes.UCUM,
                "code": "d",
            },
            "performer": {"identifier": {"system": codes.NCPDP, "value": rx.pharmacy.ncpdp_id}},
        },
    }
    if rx.prescriber_id:
        resource["requester"] = _ref(rx.prescriber)
    if not rx.pharmacy.ncpdp_id:
        del resource["dispenseRequest"]["performer"]
    return resource


def _dispense(fill: Fill, rx: Prescription, patient: Patient) -> dict:
    if fill.picked_up_at:
        status = "completed"
    elif fill.returned_to_stock_at:
        status = "declined"
    else:
        status = "in-progress"
    resource = {
        "resourceType": "MedicationDispense",
        "id": str(fill.public_id),
        "extension": [{"url": codes.FILL_NUMBER, "valueUnsignedInt": fill.fill_number}],
        "status": status,
        "subject": _ref(patient),
        "medicationCodeableConcept": _medication(rx),
        "authorizingPrescription": [_ref(rx)],
        "quantity": {"value": _number(fill.quantity)},
        "daysSupply": {
            "value": fill.days_supply,
            "unit": "days",
            "system": codes.UCUM,
            "code": "d",
        },
        "whenPrepared": fill.fill_date.isoformat(),
    }
    if fill.picked_up_at:
        resource["whenHandedOver"] = fill.picked_up_at.isoformat()
    return resource


def patient_bundle(patient: Patient) -> dict:
    """The patient's record as a validated R4 collection Bundle (a fixed number of queries)."""
    coverages = list(Coverage.objects.filter(patient=patient).order_by("priority", "id"))
    prescriptions = list(
        Prescription.objects.filter(patient=patient)
        .select_related("drug", "prescriber", "pharmacy")
        .order_by("rx_number", "id")
    )
    fills = list(
        Fill.objects.filter(prescription__patient=patient).order_by("prescription_id", "fill_date")
    )
    by_id = {rx.pk: rx for rx in prescriptions}
    resources = [_patient(patient)]
    resources += [_coverage(c, patient) for c in coverages]
    prescribers = {rx.prescriber.pk: rx.prescriber for rx in prescriptions if rx.prescriber_id}
    resources += [_practitioner(p) for p in prescribers.values()]
    resources += [_request(rx, patient) for rx in prescriptions]
    resources += [_dispense(f, by_id[f.prescription_id], patient) for f in fills]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
    for resource in resources:  # each against its R4 structure; raises if one does not fit
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    Bundle.model_validate(bundle)
    return bundle
