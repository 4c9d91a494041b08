"""Reads of service billing shared by pages, the API and exports (fixed query counts)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from billing.models import (
    ClinicalService,
    LineStatus,
    MedicalPayer,
    PharmacistProvider,
    PharmacyBillingProfile,
    ServiceClaimExport,
    ServiceClaimLine,
    ServiceFee,
)
from billing.x12.p837 import Address, BillingProvider, Claim, Interchange, Line
from medsync.models import Membership, Pharmacy, User
from medsync.selectors import limit_to_visible_pharmacies
from patients.models import PlanType
from patients.visibility import limit_to_visible_patients

CLAIM_FILING = {
    PlanType.MEDICARE_PART_D: "MB",
    PlanType.MEDICAID: "MC",
    PlanType.COMMERCIAL: "CI",
}


def provider_of(user: User) -> PharmacistProvider | None:
    return PharmacistProvider.objects.filter(user=user).first()


def billing_profile_of(pharmacy: Pharmacy) -> PharmacyBillingProfile | None:
    return PharmacyBillingProfile.objects.filter(pharmacy=pharmacy).first()


def fees_for(*, pharmacy: Pharmacy, payer: MedicalPayer | None) -> dict[str, ServiceFee]:
    """code -> fee: the payer's own fee where it has one, else the pharmacy's."""
    fees: dict[str, ServiceFee] = {}
    rows = ServiceFee.objects.filter(pharmacy=pharmacy, payer__isnull=True)
    for fee in rows:
        fees[fee.code] = fee
    if payer is not None:
        for fee in ServiceFee.objects.filter(pharmacy=pharmacy, payer=payer):
            fees[fee.code] = fee
    return fees


def service_list(
    *, membership: Membership | None = None, patient=None, kind: str = ""
) -> QuerySet[ClinicalService]:
    services = ClinicalService.objects.select_related(
        "patient", "pharmacy", "pharmacist", "payer"
    ).prefetch_related("lines")
    if patient is not None:
        services = services.filter(patient=patient)
    if kind:
        services = services.filter(kind=kind)
    services = limit_to_visible_pharmacies(services, membership, "pharmacy")
    return limit_to_visible_patients(services, membership, "patient")


def line_list(*, membership: Membership | None = None, status: str = "") -> QuerySet:
    lines = ServiceClaimLine.objects.select_related(
        "service", "service__patient", "service__payer", "service__pharmacy"
    )
    if status:
        lines = lines.filter(status=status)
    lines = limit_to_visible_pharmacies(lines, membership, "service__pharmacy")
    return limit_to_visible_patients(lines, membership, "service__patient").order_by(
        "-service__started_at", "service_id", "line_number"
    )


def export_list(*, membership: Membership | None = None) -> QuerySet[ServiceClaimExport]:
    exports = ServiceClaimExport.objects.select_related("payer", "pharmacy", "created_by")
    return limit_to_visible_pharmacies(exports, membership, "pharmacy").defer("content")


def payer_list() -> QuerySet[MedicalPayer]:
    return MedicalPayer.objects.all()


def _local_range(pharmacy: Pharmacy, date_from: dt.date, date_to: dt.date):
    zone = ZoneInfo(pharmacy.time_zone)
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def ready_lines(
    *, pharmacy: Pharmacy, payer: MedicalPayer, date_from: dt.date, date_to: dt.date
) -> QuerySet[ServiceClaimLine]:
    """Ready lines of the payer's services performed at the pharmacy in the local date range."""
    start, end = _local_range(pharmacy, date_from, date_to)
    return (
        ServiceClaimLine.objects.filter(
            status=LineStatus.READY,
            service__pharmacy=pharmacy,
            service__payer=payer,
            service__started_at__gte=start,
            service__started_at__lt=end,
        )
        .select_related("service", "service__patient", "service__coverage", "service__pharmacist")
        .order_by("service__started_at", "service_id", "line_number")
    )


def _address(obj) -> Address:
    return Address(
        line1=obj.address_line1,
        line2=getattr(obj, "address_line2", ""),
        city=obj.city,
        state=obj.state,
        postal_code=obj.postal_code,
    )


def interchange_for(
    *, lines, pharmacy: Pharmacy, profile, payer: MedicalPayer, number: int, now: dt.datetime
) -> Interchange:
    """The export's engine input: one claim per service, its lines in order."""
    zone = ZoneInfo(pharmacy.time_zone)
    by_service: dict[int, list[ServiceClaimLine]] = {}
    for line in lines:
        by_service.setdefault(line.service_id, []).append(line)
    providers = {
        p.user_id: p
        for p in PharmacistProvider.objects.filter(
            user__in={line.service.pharmacist_id for line in lines}
        )
    }
    claims = []
    for service_lines in by_service.values():
        service = service_lines[0].service
        patient = service.patient
        coverage = service.coverage
        provider = providers.get(service.pharmacist_id)
        local_day = service.started_at.astimezone(zone).date()
        claims.append(
            Claim(
                claim_id=service.public_id.hex[:20].upper(),
                patient_last=patient.last_name,
                patient_first=patient.first_name,
                birth_date=patient.date_of_birth,
                sex=patient.sex if patient.sex in ("M", "F") else "U",
                member_id=coverage.member_id if coverage else "",
                patient_address=_address(patient) if patient.address_line1 else None,
                payer_name=payer.name,
                payer_id=payer.payer_id,
                diagnosis_codes=tuple(service.diagnosis_codes),
                lines=tuple(
                    Line(
                        code=line.code,
                        charge=line.charge,
                        units=line.units,
                        service_date=local_day,
                        modifiers=tuple(line.modifiers),
                        diagnosis_pointers=tuple(line.diagnosis_pointers),
                        place_of_service=line.place_of_service,
                    )
                    for line in service_lines
                ),
                rendering_last=provider.last_name if provider else "",
                rendering_first=provider.first_name if provider else "",
                rendering_npi=service_lines[0].rendering_npi,
                claim_filing=CLAIM_FILING.get(coverage.plan_type, "CI") if coverage else "CI",
            )
        )
    return Interchange(
        control_number=number,
        sender_id=pharmacy.npi,
        receiver_id=payer.payer_id,
        receiver_name=payer.name,
        created_at=now.astimezone(zone),
        provider=BillingProvider(
            name=pharmacy.name,
            npi=pharmacy.npi,
            tax_id=profile.tax_id,
            address=_address(pharmacy),
            taxonomy_code=profile.taxonomy_code,
            contact_phone=pharmacy.phone.removeprefix("+1"),
        ),
        claims=tuple(claims),
    )
