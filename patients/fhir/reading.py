"""A FHIR R4 Bundle in: checked resource by resource, then turned into the CSV layouts so it
goes through the very same importers (one set of rules, the same preview and confirm).

Each resource is validated against its R4 structure (fhir.resources, R4B models: the same
structures as R4 for these five resources). A resource that fails, or that cannot be mapped
(no NDC, a reference to nothing in the bundle), is reported with its entry index and path,
and the rest go on. Rejections found later by the importers are reported against the entry
their row came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from patients.fhir import codes
from patients.imports.columns import COLUMNS, internal_csv_line
from patients.imports.results import FileResult, ImportFileInput, RowProblem, RowRejected

IMPORTED = ("Patient", "Coverage", "Practitioner", "MedicationRequest", "MedicationDispense")
IGNORED = ("Organization", "Medication", "Location")  # read through references only
BUNDLE_TYPES = ("transaction", "collection", "batch")


@dataclass
class BundleFiles:
    """The CSV files a bundle became, where each of their rows came from, and its problems."""

    files: list[ImportFileInput] = field(default_factory=list)
    origin: dict[tuple[str, int], int] = field(default_factory=dict)  # (kind, line) -> entry
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    resources: int = 0


def looks_like_bundle(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n").startswith("{")


def _where(index: int, kind: str, path: str = "") -> str:
    return f"Bundle.entry[{index}].resource ({kind}){'.' + path if path else ''}"


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


def read_bundle(text: str) -> BundleFiles:
    """The importable rows of a Bundle, by CSV kind; problems name the entry and the path."""
    found = BundleFiles()
    try:
        bundle = json.loads(text.lstrip("\ufeff"), parse_float=Decimal)
    except ValueError as error:
        found.problems.append(RowProblem(0, f"The file is not JSON: {error}."))
        return found
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        found.problems.append(RowProblem(0, "The JSON is not a FHIR Bundle (resourceType)."))
        return found
    if bundle.get("type") not in BUNDLE_TYPES:
        found.problems.append(
            RowProblem(
                0, f"Bundle.type must be transaction or collection (got {bundle.get('type')!r})."
            )
        )
        return found
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        found.problems.append(RowProblem(0, "Bundle.entry must be a list."))
        return found
    resources: dict[int, dict] = {}
    index_of: dict[str, int] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not kind:
            found.problems.append(RowProblem(index, f"Bundle.entry[{index}] has no resource."))
            continue
        if kind not in IMPORTED:
            if kind not in IGNORED:
                found.warnings.append(
                    RowProblem(
                        index, f"{_where(index, kind)}: not imported (only {', '.join(IMPORTED)})."
                    )
                )
            resources[index] = resource
        else:
            try:
                get_fhir_model_class(kind).model_validate(resource)
            except ValidationError as error:
                for problem in error.errors()[:5]:
                    found.problems.append(
                        RowProblem(
                            index, f"{_where(index, kind, _path(problem['loc']))}: {problem['msg']}"
                        )
                    )
                continue
            resources[index] = resource
            found.resources += 1
        if isinstance(entry.get("fullUrl"), str):
            index_of[entry["fullUrl"]] = index
        if resource.get("id"):
            index_of[f"{kind}/{resource['id']}"] = index
    mapper = _Mapper(resources, index_of)
    rows: dict[str, list[tuple[int, dict]]] = {
        k: [] for k in ("patients", "coverage", "prescriptions", "fills")
    }
    for order, kind in (
        ("patients", "Patient"),
        ("coverage", "Coverage"),
        ("prescriptions", "MedicationRequest"),
        ("fills", "MedicationDispense"),
    ):
        for index, resource in resources.items():
            if resource["resourceType"] != kind:
                continue
            try:
                rows[order].append((index, getattr(mapper, order)(resource)))
            except RowRejected as problem:
                found.problems.append(RowProblem(index, f"{_where(index, kind)}: {problem}"))
    for kind, items in rows.items():
        if not items:
            continue
        header = COLUMNS[kind]["required"] + COLUMNS[kind]["optional"]
        lines = [",".join(header)]
        for line, (index, row) in enumerate(items, start=2):
            lines.append(internal_csv_line(row.get(column, "") for column in header))
            found.origin[(kind, line)] = index
        text = "\n".join(lines) + "\n"
        found.files.append(ImportFileInput(filename=kind, text=text, kind=kind))
    return found


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def _telecom(resource: dict, system: str) -> str:
    for point in resource.get("telecom") or []:
        if point.get("system") == system and point.get("value"):
            return point["value"]
    return ""


def _identifier(resource: dict, *, system: str = "", type_code: str = "") -> str:
    identifiers = resource.get("identifier") or []
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    for ident in identifiers:
        codings = ((ident.get("type") or {}).get("coding")) or []
        if system and ident.get("system") == system:
            return ident.get("value") or ""
        if type_code and any(c.get("code") == type_code for c in codings):
            return ident.get("value") or ""
    if not system and identifiers:
        return identifiers[0].get("value") or ""
    return ""


def _coding(concept: dict | None, system: str) -> str:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == system and coding.get("code"):
            return coding["code"]
    return ""


def _date(value) -> str:
    return str(value or "")[:10]


class _Mapper:
    """Each resource as a row of its CSV layout (the importers check every value)."""

    def __init__(self, resources: dict[int, dict], index_of: dict[str, int]):
        self.resources = resources
        self.index_of = index_of

    def _resolve(self, reference: dict | None, kind: str, path: str) -> dict:
        target = (reference or {}).get("reference")
        index = self.index_of.get(target or "")
        resource = self.resources.get(index) if index is not None else None
        if resource is None or resource.get("resourceType") != kind:
            raise RowRejected(f"{path} {target!r} is not a {kind} in this bundle.")
        return resource

    def _mrn(self, reference, path) -> str:
        patient = self._resolve(reference, "Patient", path)
        mrn = _identifier(patient, type_code="MR")
        if not mrn:
            raise RowRejected(f"{path}: the patient has no identifier (the MRN).")
        return mrn

    def patients(self, r: dict) -> dict:
        name = (r.get("name") or [{}])[0]
        given = name.get("given") or [""]
        address = (r.get("address") or [{}])[0]
        lines = (address.get("line") or []) + ["", ""]
        mrn = _identifier(r, type_code="MR")
        if not mrn:
            raise RowRejected("identifier: the patient needs one (the pharmacy system's MRN).")
        return {
            "mrn": mrn,
            "first_name": given[0],
            "last_name": name.get("family") or "",
            "date_of_birth": r.get("birthDate") or "",
            "phone": _telecom(r, "phone"),
            "email": _telecom(r, "email"),
            "sex": codes.GENDER_TO_SEX.get(r.get("gender") or "", ""),
            "address_line1": lines[0],
            "address_line2": lines[1],
            "city": address.get("city") or "",
            "state": address.get("state") or "",
            "postal_code": address.get("postalCode") or "",
        }

    def coverage(self, r: dict) -> dict:
        classes = {
            _coding(c.get("type"), codes.COVERAGE_CLASS): c.get("value") or ""
            for c in r.get("class") or []
        }
        costs = {
            _coding(c.get("type"), codes.COPAY_TYPE): c for c in r.get("costToBeneficiary") or []
        }
        copay = (costs.get("copay") or {}).get("valueMoney") or {}
        percent = (costs.get("copaypct") or {}).get("valueQuantity") or {}
        period = r.get("period") or {}
        payor = (r.get("payor") or [{}])[0]
        return {
            "mrn": self._mrn(r.get("beneficiary"), "beneficiary"),
            "payer_name": payor.get("display") or "",
            "plan_type": _coding(r.get("type"), codes.PLAN_TYPE),
            "bin": classes.get("rxbin", ""),
            "pcn": classes.get("rxpcn", ""),
            "group": classes.get("rxgroup") or classes.get("group", ""),
            "member_id": r.get("subscriberId") or classes.get("rxid", ""),
            "copay_amount": _text(copay.get("value")),
            "coinsurance_percent": _text(percent.get("value")),
            "effective_from": _date(period.get("start")),
            "effective_to": _date(period.get("end")),
            "priority": _text(r.get("order")),
        }

    def _drug(self, r: dict, path: str) -> str:
        concept = r.get("medicationCodeableConcept")
        if concept is None and r.get("medicationReference"):
            concept = self._resolve(
                r["medicationReference"], "Medication", "medicationReference"
            ).get("code")
        ndc = _coding(concept, codes.NDC)
        if ndc:
            return ndc
        rxcui = _coding(concept, codes.RXNORM)
        if rxcui:
            raise RowRejected(
                f"{path} has RxNorm {rxcui} but no NDC coding: the drug catalog is keyed by NDC "
                "(send the dispensed package's NDC beside the RxNorm code)."
            )
        raise RowRejected(f"{path} has no NDC coding ({codes.NDC}).")

    def _daily_dose(self, dosage: dict) -> str:
        rate = (dosage.get("doseAndRate") or [{}])[0]
        dose = (rate.get("doseQuantity") or {}).get("value")
        if dose is None:
            raise RowRejected(
                "dosageInstruction[0].doseAndRate[0].doseQuantity is needed for the daily dose."
            )
        repeat = ((dosage.get("timing") or {}).get("repeat")) or {}
        frequency = Decimal(repeat.get("frequency") or 1)
        period = Decimal(repeat.get("period") or 1)
        unit = repeat.get("periodUnit") or "d"
        if unit not in codes.PERIOD_DAYS or not period:
            raise RowRejected(
                f"dosageInstruction[0].timing.repeat.periodUnit {unit!r} is not h, d, wk, mo or a."
            )
        days = _fraction(codes.PERIOD_DAYS[unit])
        try:
            daily = Decimal(dose) * frequency / (period * days)
        except InvalidOperation:
            raise RowRejected("dosageInstruction[0]: the dose is not a number.") from None
        return _text(daily.quantize(Decimal("0.0001")).normalize())

    def prescriptions(self, r: dict) -> dict:
        dosage = (r.get("dosageInstruction") or [{}])[0]
        dispense = r.get("dispenseRequest") or {}
        supply = dispense.get("expectedSupplyDuration") or {}
        requester = r.get("requester")
        prescriber = self._resolve(requester, "Practitioner", "requester") if requester else {}
        name = (prescriber.get("name") or [{}])[0]
        performer = ((dispense.get("performer") or {}).get("identifier")) or {}
        rx_number = _identifier(r, system=codes.RX_NUMBER) or _identifier(r)
        if not rx_number:
            raise RowRejected("identifier: the prescription needs one (the rx number).")
        return {
            "rx_number": rx_number,
            "mrn": self._mrn(r.get("subject"), "subject"),
            "ndc": self._drug(r, "medicationCodeableConcept"),
            "sig": dosage.get("text") or "",
            "daily_dose": self._daily_dose(dosage),
            "quantity": _text((dispense.get("quantity") or {}).get("value")),
            "days_supply": _text(supply.get("value")),
            "refills_authorized": _text(dispense.get("numberOfRepeatsAllowed")),
            "written_date": _date(r.get("authoredOn")),
            "expiration_date": _date((dispense.get("validityPeriod") or {}).get("end")),
            "status": codes.REQUEST_STATUS.get(r.get("status") or "", ""),
            "pharmacy_ncpdp": performer.get("value") or "",
            "prescriber_npi": _identifier(prescriber, system=codes.NPI) if prescriber else "",
            "prescriber_first_name": (name.get("given") or [""])[0],
            "prescriber_last_name": name.get("family") or "",
            "prescriber_phone": _telecom(prescriber, "phone") if prescriber else "",
            "prescriber_fax": _telecom(prescriber, "fax") if prescriber else "",
        }

    def fills(self, r: dict) -> dict:
        authorizing = (r.get("authorizingPrescription") or [None])[0]
        request = self._resolve(authorizing, "MedicationRequest", "authorizingPrescription[0]")
        performer = (((request.get("dispenseRequest") or {}).get("performer")) or {}).get(
            "identifier"
        ) or {}
        handed = r.get("whenHandedOver") or ""
        fill_number = next(
            (
                e.get("valueUnsignedInt")
                for e in r.get("extension") or []
                if e.get("url") == codes.FILL_NUMBER
            ),
            None,
        )
        return {
            "rx_number": _identifier(request, system=codes.RX_NUMBER) or _identifier(request),
            "fill_date": _date(r.get("whenPrepared") or handed),
            "quantity": _text((r.get("quantity") or {}).get("value")),
            "days_supply": _text((r.get("daysSupply") or {}).get("value")),
            "fill_number": _text(fill_number),
            "pharmacy_ncpdp": performer.get("value") or "",
            "picked_up_at": handed
            if r.get("status") == "completed" and len(str(handed)) > 10
            else "",
        }


def _fraction(text: str) -> Decimal:
    """'1/24' -> Decimal."""
    top, _, bottom = text.partition("/")
    return Decimal(top) / Decimal(bottom or 1)


RESOURCE_OF_KIND = {
    "patients": "Patient",
    "coverage": "Coverage",
    "prescriptions": "MedicationRequest",
    "fills": "MedicationDispense",
}


def expand_bundles(files: list[ImportFileInput]) -> tuple[list[ImportFileInput], dict]:
    """The uploads with each Bundle replaced by the CSV files it maps to (named
    "<bundle>#<kind>"), and what was read of each bundle, by its file name."""
    expanded: list[ImportFileInput] = []
    bundles: dict[str, BundleFiles] = {}
    for upload in files:
        if upload.kind != "fhir":
            expanded.append(upload)
            continue
        read = bundles[upload.filename] = read_bundle(upload.text)
        expanded += [
            ImportFileInput(f"{upload.filename}#{f.kind}", f.text, f.kind) for f in read.files
        ]
    return expanded, bundles


def merge_bundle_results(files: list[ImportFileInput], results: list, bundles: dict) -> list:
    """One result per uploaded file: a bundle's CSV results summed, each problem reported
    against the bundle entry its row came from."""
    by_name = {r.filename: r for r in results}
    merged = []
    for upload in files:
        if upload.filename not in bundles:
            merged.append(by_name[upload.filename])
            continue
        read = bundles[upload.filename]
        total = FileResult(filename=upload.filename, kind="fhir")
        total.errors += read.problems
        total.warnings += read.warnings
        total.rows_total = len({p.line for p in read.problems})
        for part in read.files:
            result = by_name[f"{upload.filename}#{part.kind}"]
            resource = RESOURCE_OF_KIND[part.kind]
            total.rows_total += result.rows_total
            total.created += result.created
            total.updated += result.updated
            total.unchanged += result.unchanged
            for target, problems in (
                (total.errors, result.errors),
                (total.warnings, result.warnings),
            ):
                for problem in problems:
                    index = read.origin.get((part.kind, problem.line), 0)
                    target.append(RowProblem(index, f"{_where(index, resource)}: {problem.reason}"))
        total.errors.sort(key=lambda p: p.line)
        merged.append(total)
    return merged
