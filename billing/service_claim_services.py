"""Writes of service billing: document a service, build its lines, export, record status.

Every write is atomic and audited. Bad input raises django ValidationError naming the field,
before anything is written. Exports claim their lines with ServiceClaimExportLine rows (one
per line, unique), so a line can never be in two exports even when two people export the
same range at the same moment: the second export finds the lines taken and writes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from billing import service_claim_selectors as selectors
from billing.cms1500 import render_cms1500
from billing.models import (
    MTM_KINDS,
    ClinicalService,
    ExportFormat,
    LineStatus,
    MedicalPayer,
    PharmacistProvider,
    PharmacyBillingProfile,
    ServiceClaimExport,
    ServiceClaimExportLine,
    ServiceClaimLine,
    ServiceFee,
    ServiceKind,
    validate_cpt,
    validate_icd10,
)
from billing.service_units import mtm_units
from billing.x12.p837 import write_837p
from billing.x12.validate import validate_837p
from medsync.models import Pharmacy, User
from medsync.services import AuditEntry, audit_record, audit_record_many
from patients.models import Coverage, Patient

# Status changes a person may record on a line (exported by an export only).
LINE_TRANSITIONS = {
    LineStatus.EXPORTED: {LineStatus.PAID, LineStatus.DENIED},
    LineStatus.DENIED: {LineStatus.PAID},
    LineStatus.PAID: set(),
    LineStatus.READY: set(),
}


def normalize_icd10(codes) -> list[str]:
    """Upper case without the dot (E11.9 -> E119); raises ValidationError on a bad code."""
    out = []
    for raw in codes or []:
        code = str(raw).strip().upper().replace(".", "")
        try:
            validate_icd10(code)
        except ValidationError:
            raise ValidationError(
                {"diagnosis_codes": [f"{raw!s:.20} is not an ICD-10-CM code (e.g. E11.9)."]}
            ) from None
        if code not in out:
            out.append(code)
    if len(out) > 12:
        raise ValidationError({"diagnosis_codes": ["At most 12 diagnosis codes (box 21)."]})
    return out


@transaction.atomic
def clinical_service_document(
    *,
    patient: Patient,
    pharmacy: Pharmacy,
    kind: str,
    pharmacist: User,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    actor: User,
    new_patient: bool = True,
    assessed: str = "",
    findings: str = "",
    actions: str = "",
    diagnosis_codes=(),
    procedure_code: str = "",
    follow_up: str = "",
    follow_up_on: dt.date | None = None,
    payer: MedicalPayer | None = None,
    coverage: Coverage | None = None,
) -> ClinicalService:
    """Record a performed service; with a payer, its billable lines too (ready to export)."""
    if ended_at <= started_at:
        raise ValidationError({"ended_at": ["The end must be after the start."]})
    if ended_at - started_at > dt.timedelta(hours=8):
        raise ValidationError({"ended_at": ["A service lasts at most 8 hours."]})
    if kind not in ServiceKind.values:
        raise ValidationError({"kind": [f"One of {', '.join(ServiceKind.values)}."]})
    procedure_code = (procedure_code or "").strip().upper()
    if procedure_code:
        try:
            validate_cpt(procedure_code)
        except ValidationError as error:
            raise ValidationError({"procedure_code": error.messages}) from None
    if kind not in MTM_KINDS and payer is not None and not procedure_code:
        raise ValidationError({"procedure_code": ["Name the code to bill for this service."]})
    if coverage is not None and coverage.patient_id != patient.pk:
        raise ValidationError({"coverage": ["This coverage belongs to another patient."]})
    service = ClinicalService(
        patient=patient,
        pharmacy=pharmacy,
        kind=kind,
        pharmacist=pharmacist,
        new_patient=new_patient,
        started_at=started_at,
        ended_at=ended_at,
        assessed=assessed,
        findings=findings,
        actions=actions,
        diagnosis_codes=normalize_icd10(diagnosis_codes),
        procedure_code=procedure_code,
        follow_up=follow_up,
        follow_up_on=follow_up_on,
        payer=payer,
        coverage=coverage,
        documented_by=actor,
    )
    service.full_clean(exclude=["organization", "diagnosis_codes"])
    service.save()
    audit_record(
        action="billing.clinical_service.documented",
        actor=actor,
        target=service,
        metadata={"patient": str(patient.public_id), "kind": kind, "minutes": service.minutes},
    )
    if payer is not None:
        service_lines_build(service=service, actor=actor)
    return service


def planned_codes(service: ClinicalService) -> list[tuple[str, int]]:
    """What a service bills: MTM kinds by time (DOMAIN 9), others their own code once."""
    if service.kind in MTM_KINDS:
        return mtm_units(minutes=service.minutes, new_patient=service.new_patient)
    return [(service.procedure_code, 1)] if service.procedure_code else []


def service_lines_build(*, service: ClinicalService, actor: User) -> list[ServiceClaimLine]:
    """The billable lines of a documented service, charged from the fee schedule."""
    codes = planned_codes(service)
    if not codes:
        raise ValidationError(
            {"ended_at": ["Under 8 minutes: nothing is billable for this service."]}
        )
    if not service.diagnosis_codes:
        raise ValidationError({"diagnosis_codes": ["A claim needs at least one diagnosis."]})
    provider = selectors.provider_of(service.pharmacist)
    if provider is None:
        raise ValidationError(
            {"pharmacist": ["Record this pharmacist's NPI (billing settings) first."]}
        )
    fees = selectors.fees_for(pharmacy=service.pharmacy, payer=service.payer)
    missing = [code for code, _ in codes if code not in fees]
    if missing:
        raise ValidationError(
            {"fee_schedule": [f"No fee for {', '.join(missing)} at {service.pharmacy.name}."]}
        )
    pointers = list(range(1, min(4, len(service.diagnosis_codes)) + 1))
    lines = []
    for number, (code, units) in enumerate(codes, start=1):
        fee = fees[code]
        lines.append(
            ServiceClaimLine.objects.create(
                service=service,
                line_number=number,
                code=code,
                modifiers=list(fee.modifiers),
                units=units,
                charge=(fee.charge * units).quantize(Decimal("0.01")),
                diagnosis_pointers=pointers,
                rendering_npi=provider.npi,
            )
        )
    audit_record(
        action="billing.service_claim.lines_built",
        actor=actor,
        target=service,
        metadata={"lines": [f"{line.code}x{line.units}" for line in lines]},
    )
    return lines


@transaction.atomic
def claim_line_set_status(
    *,
    line: ServiceClaimLine,
    status: str,
    actor: User,
    paid_amount: Decimal | None = None,
    denial_reason: str = "",
) -> ServiceClaimLine:
    """Record the payer's answer to an exported line: paid (with the amount) or denied."""
    line = ServiceClaimLine.objects.select_for_update().get(pk=line.pk)
    if status not in LINE_TRANSITIONS.get(line.status, set()):
        raise ValidationError({"status": [f"A line that is {line.status} cannot become {status}."]})
    if status == LineStatus.PAID and (paid_amount is None or paid_amount < 0):
        raise ValidationError({"paid_amount": ["The amount the payer paid (0 or more)."]})
    if status == LineStatus.DENIED and not denial_reason.strip():
        raise ValidationError({"denial_reason": ["Say why the payer denied the line."]})
    line.status = status
    line.paid_amount = paid_amount if status == LineStatus.PAID else None
    line.denial_reason = denial_reason.strip()[:200] if status == LineStatus.DENIED else ""
    line.status_changed_at = timezone.now()
    line.save(update_fields=["status", "paid_amount", "denial_reason", "status_changed_at"])
    audit_record(
        action=f"billing.service_claim.{status}",
        actor=actor,
        target=line.service,
        metadata={"line": str(line.public_id), "code": line.code},
    )
    return line


@transaction.atomic
def service_claims_export(
    *,
    pharmacy: Pharmacy,
    payer: MedicalPayer,
    date_from: dt.date,
    date_to: dt.date,
    export_format: str,
    actor: User,
) -> ServiceClaimExport:
    """Export every ready line of the payer's services in the date range, once."""
    if date_to < date_from:
        raise ValidationError({"date_to": ["The range ends before it starts."]})
    if export_format not in ExportFormat.values:
        raise ValidationError({"format": [f"One of {', '.join(ExportFormat.values)}."]})
    lines = list(
        selectors.ready_lines(
            pharmacy=pharmacy, payer=payer, date_from=date_from, date_to=date_to
        ).select_for_update(of=("self",))
    )
    if not lines:
        raise ValidationError({"date_from": ["No ready service lines for this payer and range."]})
    profile = selectors.billing_profile_of(pharmacy)
    if profile is None or not pharmacy.npi:
        raise ValidationError(
            {"pharmacy": ["Record the pharmacy's NPI and federal tax ID (billing settings)."]}
        )
    number = (ServiceClaimExport.objects.aggregate(top=Max("control_number"))["top"] or 0) + 1
    now = timezone.now()
    interchange = selectors.interchange_for(
        lines=lines, pharmacy=pharmacy, profile=profile, payer=payer, number=number, now=now
    )
    if export_format == ExportFormat.X12_837P:
        text = write_837p(interchange)
        problems = validate_837p(text)
        if problems:  # our own writer's fault: refuse rather than send a broken file
            raise ValidationError({"format": problems})
        content = text.encode()
    else:
        content = render_cms1500(interchange)
    export = ServiceClaimExport.objects.create(
        pharmacy=pharmacy,
        payer=payer,
        format=export_format,
        date_from=date_from,
        date_to=date_to,
        control_number=number,
        content=content,
        created_by=actor,
    )
    try:
        with transaction.atomic():
            ServiceClaimExportLine.objects.bulk_create(
                [
                    ServiceClaimExportLine(
                        organization_id=export.organization_id, export=export, line=line
                    )
                    for line in lines
                ]
            )
    except IntegrityError:
        raise ValidationError({"date_from": ["Some of these lines were just exported."]}) from None
    ServiceClaimLine.objects.filter(pk__in=[line.pk for line in lines]).update(
        status=LineStatus.EXPORTED, status_changed_at=now
    )
    services = {line.service_id: line.service for line in lines}
    audit_record_many(
        [
            AuditEntry(
                action="billing.service_claim.exported",
                target=service,
                metadata={"export": str(export.public_id), "format": export_format},
            )
            for service in services.values()
        ],
        actor=actor,
    )
    return export


# --- Billing settings: tax ID, pharmacists' NPIs, payers, the fee schedule ------------------


def _saved(instance, actor: User, action: str, fields: list[str]):
    instance.full_clean(exclude=["organization"], validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError({fields[0]: ["This one already exists."]}) from None
    audit_record(action=action, actor=actor, target=instance, metadata={"fields": fields})
    return instance


@transaction.atomic
def billing_profile_save(
    *, pharmacy: Pharmacy, tax_id: str, taxonomy_code: str = "3336C0003X", actor: User
) -> PharmacyBillingProfile:
    profile = PharmacyBillingProfile.objects.filter(pharmacy=pharmacy).first()
    profile = profile or PharmacyBillingProfile(pharmacy=pharmacy)
    profile.tax_id = (tax_id or "").replace("-", "").strip()
    profile.taxonomy_code = (taxonomy_code or "3336C0003X").strip().upper()
    return _saved(profile, actor, "billing.billing_profile.saved", ["tax_id", "taxonomy_code"])


@transaction.atomic
def pharmacist_provider_save(
    *, user: User, npi: str, first_name: str, last_name: str, actor: User
) -> PharmacistProvider:
    provider = PharmacistProvider.objects.filter(user=user).first() or PharmacistProvider(user=user)
    provider.npi = (npi or "").strip()
    provider.first_name = first_name.strip()
    provider.last_name = last_name.strip()
    return _saved(provider, actor, "billing.pharmacist_provider.saved", ["npi"])


@transaction.atomic
def medical_payer_create(*, name: str, payer_id: str, actor: User) -> MedicalPayer:
    payer = MedicalPayer(name=name.strip(), payer_id=(payer_id or "").strip().upper())
    return _saved(payer, actor, "billing.medical_payer.created", ["payer_id", "name"])


@transaction.atomic
def service_fee_save(
    *,
    pharmacy: Pharmacy,
    code: str,
    charge: Decimal,
    actor: User,
    payer: MedicalPayer | None = None,
    modifiers=(),
) -> ServiceFee:
    code = (code or "").strip().upper()
    fee = ServiceFee.objects.filter(pharmacy=pharmacy, payer=payer, code=code).first()
    fee = fee or ServiceFee(pharmacy=pharmacy, payer=payer, code=code)
    fee.charge = charge
    fee.modifiers = [m.strip().upper() for m in modifiers if m.strip()][:4]
    if any(len(m) != 2 for m in fee.modifiers):
        raise ValidationError({"modifiers": ["Modifiers are 2 characters each (e.g. 33, GT)."]})
    return _saved(fee, actor, "billing.service_fee.saved", ["code", "charge"])


STATUS_FILE_COLUMNS = ("line", "status", "paid_amount", "denial_reason")


@transaction.atomic
def claim_lines_status_from_file(*, text: str, actor: User) -> int:
    """Record payers' answers from a CSV (line,status,paid_amount,denial_reason; `line` is the
    line's id as the API and the export page show it). All rows or none: a bad row is a
    ValidationError naming its row number."""
    reader = csv.DictReader(io.StringIO(text))
    if set(STATUS_FILE_COLUMNS[:2]) - set(reader.fieldnames or []):
        raise ValidationError({"file": [f"Columns: {', '.join(STATUS_FILE_COLUMNS)}."]})
    count = 0
    for number, row in enumerate(reader, start=2):
        try:
            line_id = uuid.UUID((row.get("line") or "").strip())
            amount_text = (row.get("paid_amount") or "").strip()
            amount = Decimal(amount_text) if amount_text else None
        except (ValueError, ArithmeticError):
            raise ValidationError({"file": [f"Row {number}: a line id and an amount."]}) from None
        line = ServiceClaimLine.objects.filter(public_id=line_id).first()
        if line is None:
            raise ValidationError({"file": [f"Row {number}: no such line."]})
        try:
            claim_line_set_status(
                line=line,
                status=(row.get("status") or "").strip().lower(),
                paid_amount=amount,
                denial_reason=row.get("denial_reason") or "",
                actor=actor,
            )
        except ValidationError as error:
            raise ValidationError({"file": [f"Row {number}: {' '.join(error.messages)}"]}) from None
        count += 1
    return count
