"""Demo patient records: ~40 Maple Pharmacy patients with a year of realistic fill history,
a handful at Birch Rx. Deterministic (fixed seed, dates relative to today) and idempotent:
a patient whose MRN exists is left as it is."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from medsync.models import Membership, Organization, Pharmacy
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from medsync.validators import npi_with_check_digit
from patients.catalog import drug_catalog_load
from patients.models import (
    Coverage,
    Drug,
    Fill,
    Household,
    Patient,
    PlanType,
    Prescriber,
    Prescription,
    PriceListEntry,
    TherapyType,
)
from patients.services import patient_reconcile_accept_suggestions

FIRST = [
    "Margaret",
    "Harold",
    "Dorothy",
    "Walter",
    "Betty",
    "Eugene",
    "Shirley",
    "Raymond",
    "Joan",
    "Gerald",
    "Patricia",
    "Frank",
    "Carol",
    "Dennis",
    "Linda",
    "Roger",
    "Barbara",
    "Ralph",
    "Sandra",
    "Wayne",
    "Donna",
    "Lawrence",
    "Judith",
    "Carl",
    "Rosa",
    "Miguel",
    "Guadalupe",
    "Luis",
    "Mei",
    "Tuan",
    "Aisha",
    "Samuel",
    "Ingrid",
    "Lars",
    "Fatima",
    "Joseph",
    "Evelyn",
    "Arthur",
    "Gloria",
    "Henry",
]
LAST = [
    "Johnson",
    "Olson",
    "Nguyen",
    "Schmidt",
    "Garcia",
    "Peterson",
    "Hansen",
    "Williams",
    "Larson",
    "Miller",
    "Anderson",
    "Kowalski",
    "Martinez",
    "Brown",
    "Wagner",
    "Davis",
    "Hernandez",
    "Thompson",
    "Lopez",
    "Jensen",
    "Moore",
    "Becker",
    "Nelson",
    "Clark",
    "Rodriguez",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Hill",
    "Lewis",
    "Carter",
    "Mitchell",
    "Roberts",
]
STREETS = ["Oak St", "Johnson St", "Monroe St", "Regent St", "Park St", "Atwood Ave"]

# (class, how likely a patient takes one) for a chronic-disease population.
CHRONIC = [
    ("statin", 0.75),
    ("ras_antagonist", 0.6),
    ("diabetes_non_insulin", 0.45),
    ("beta_blocker", 0.35),
    ("calcium_channel_blocker", 0.3),
    ("thiazide", 0.3),
    ("thyroid", 0.25),
    ("ssri", 0.25),
    ("doac", 0.15),
]
SPECIAL_FORMS = [("inhaler", 0.15), ("pen", 0.1), ("eye_drops", 0.1)]
PLANS = [
    # payer, plan type, bin, pcn, group, copay, coinsurance, weight
    (
        "Acme Medicare Rx (PDP)",
        PlanType.MEDICARE_PART_D,
        "610014",
        "MEDDPRIME",
        "PDPWI",
        Decimal("10.00"),
        None,
        45,
    ),
    (
        "Badger Health Commercial",
        PlanType.COMMERCIAL,
        "004336",
        "ADV",
        "RX4471",
        None,
        Decimal("20"),
        25,
    ),
    (
        "BadgerCare Plus (Medicaid)",
        PlanType.MEDICAID,
        "610084",
        "WIMCAID",
        "BCP",
        Decimal("3.00"),
        None,
        15,
    ),
    ("Northwoods PPO", PlanType.COMMERCIAL, "003858", "A4", "NW900", Decimal("15.00"), None, 10),
    ("Cash", PlanType.CASH, "", "", "", None, None, 5),
]


class Command(BaseCommand):
    help = "Demo patients, coverage, prescriptions and a year of fills (idempotent)."

    def handle(self, *args, **options):
        if not Drug.objects.exists():
            drug_catalog_load()  # an empty database (e.g. after a test flush) has no catalog
        today = timezone.localdate()
        for slug, count in (("maple", 40), ("birch", 6)):
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                continue
            with tenant_scope(organization), transaction.atomic():
                created = self._seed(organization, count, today)
            self.stdout.write(f"  {organization.name}: {created} demo patients added")

    def _seed(self, organization, count: int, today: dt.date) -> int:
        rng = random.Random(f"medsync-demo-{organization.slug}")  # noqa: S311 - demo data
        pharmacies = list(Pharmacy.objects.order_by("name"))
        if not pharmacies:
            return 0
        drugs = list(Drug.objects.all())
        if not drugs:
            return 0
        self._prices(organization, pharmacies, drugs)
        by_class: dict[str, list[Drug]] = {}
        by_form: dict[str, list[Drug]] = {}
        for drug in drugs:
            for klass in drug.therapeutic_classes:
                by_class.setdefault(klass, []).append(drug)
            by_form.setdefault(drug.dosage_form, []).append(drug)
        prescribers = self._prescribers(organization, rng)
        pharmacist = Membership.objects.filter(role=Role.PHARMACIST).select_related("user").first()
        area = "608" if organization.slug == "maple" else "828"
        households = {}
        created = 0
        for index in range(count):
            mrn = f"DEMO-{organization.slug.upper()}-{index + 1:03d}"
            if Patient.objects.filter(mrn=mrn).exists():
                continue
            last = LAST[index % len(LAST)]
            # Every seventh patient shares a home with the one before: a household.
            household = None
            if index % 7 == 6:
                last = LAST[(index - 1) % len(LAST)]
                household = households.setdefault(
                    last,
                    Household.objects.get_or_create(name=f"{last} household")[0],
                )
            pharmacy = pharmacies[index % len(pharmacies)]
            patient = Patient.objects.create(
                mrn=mrn,
                first_name=FIRST[(index * 7) % len(FIRST)],
                last_name=last,
                date_of_birth=dt.date(
                    1938 + rng.randrange(0, 45), rng.randrange(1, 13), rng.randrange(1, 29)
                ),
                sex=rng.choice(["F", "M"]),
                phone=f"+1{area}5550{100 + index:03d}"[:12],
                address_line1=f"{100 + index * 3} {STREETS[index % len(STREETS)]}",
                city=pharmacy.city or "Madison",
                state=pharmacy.state,
                postal_code=pharmacy.postal_code,
                preferred_language="es" if index % 9 == 4 else "en",
                home_pharmacy=pharmacy,
                household=household,
            )
            if household is not None:
                previous = Patient.objects.filter(
                    mrn=f"DEMO-{organization.slug.upper()}-{index:03d}"
                )
                previous.update(household=household)
            coverage = self._coverage(patient, rng, today)
            self._prescriptions(
                patient, pharmacy, coverage, prescribers, by_class, by_form, rng, today
            )
            if pharmacist and index < int(count * 0.75):
                patient_reconcile_accept_suggestions(patient=patient, actor=pharmacist.user)
            created += 1
        return created

    @staticmethod
    def _prices(organization, pharmacies, drugs) -> None:
        """A price list for every pharmacy (issue 10: every planned fill priced). Generics a few
        cents a unit, brands dollars, whole packages (pens, inhalers) priced per unit counted;
        U&C about 2.5 x cost. Deterministic by NDC; existing prices are left alone."""
        rows = []
        for drug in drugs:
            seed = int(drug.ndc[-6:])
            generic = drug.name.lower().split()[0] in drug.generic_name.lower()
            if drug.unit_of_use:
                cost = Decimal(20 + seed % 180) / max(drug.package_size, Decimal("1"))
            elif generic:
                cost = Decimal(2 + seed % 28) / 100
            else:
                cost = Decimal(300 + seed % 1200) / 100
            cost = cost.quantize(Decimal("0.00001"))
            usual = (cost * Decimal("2.5")).quantize(Decimal("0.00001"))
            for pharmacy in pharmacies:
                rows.append(
                    PriceListEntry(
                        organization=organization,
                        pharmacy=pharmacy,
                        ndc=drug.ndc,
                        acquisition_cost=cost,
                        usual_and_customary=usual,
                    )
                )
        PriceListEntry.objects.bulk_create(rows, ignore_conflicts=True)

    def _prescribers(self, organization, rng) -> list[Prescriber]:
        names = [
            ("Anita", "Desai", "145739016"),
            ("Robert", "Lindqvist", "136653911"),
            ("Maria", "Alvarez", "180183263"),
            ("Kwame", "Mensah", "109371828"),
        ]
        prescribers = []
        for first, last, npi_start in names:
            prescriber, _ = Prescriber.objects.get_or_create(
                npi=npi_with_check_digit(npi_start),
                defaults={"first_name": first, "last_name": last},
            )
            prescribers.append(prescriber)
        return prescribers

    def _coverage(self, patient, rng, today) -> Coverage:
        age = (today - patient.date_of_birth).days // 365
        if age >= 65 and rng.random() < 0.75:
            plan = PLANS[0]  # Medicare Part D
        else:
            plan = rng.choices(PLANS[1:], [p[-1] for p in PLANS[1:]])[0]
        payer, plan_type, bin_, pcn, group, copay, coinsurance, _ = plan
        return Coverage.objects.create(
            patient=patient,
            payer_name=payer,
            plan_type=plan_type,
            bin=bin_,
            pcn=pcn,
            group=group,
            member_id=f"{patient.mrn[-3:]}{rng.randrange(10**6, 10**7)}",
            copay_amount=copay,
            coinsurance_percent=coinsurance,
            effective_from=dt.date(today.year - 1, 1, 1),
            rules_state=patient.state or "WI",
        )

    def _prescriptions(
        self, patient, pharmacy, coverage, prescribers, by_class, by_form, rng, today
    ):
        chosen: list[Drug] = []
        for klass, chance in CHRONIC:
            if by_class.get(klass) and rng.random() < chance:
                chosen.append(rng.choice(by_class[klass]))
        for form, chance in SPECIAL_FORMS:
            if by_form.get(form) and rng.random() < chance:
                chosen.append(rng.choice(by_form[form]))
        while len(chosen) < 2:
            chosen.append(
                rng.choice(by_class["statin"] if len(chosen) == 0 else by_class["ras_antagonist"])
            )
        chosen = chosen[:8]
        extras = []
        if rng.random() < 0.12 and by_class.get("opioid"):
            extras.append((rng.choice(by_class["opioid"]), TherapyType.PRN))
        if rng.random() < 0.1 and by_class.get("antibiotic"):
            extras.append((rng.choice(by_class["antibiotic"]), TherapyType.ACUTE))
        sequence = Prescription.objects.count()
        for offset, (drug, therapy) in enumerate(
            [(d, TherapyType.MAINTENANCE) for d in chosen] + extras
        ):
            rx_number = f"{2100000 + sequence + offset}"
            self._prescription(
                patient, pharmacy, coverage, prescribers, drug, therapy, rx_number, rng, today
            )

    def _prescription(
        self, patient, pharmacy, coverage, prescribers, drug, therapy, rx_number, rng, today
    ):
        daily_dose, days, sig = self._sig(drug, therapy, rng)
        quantity = self._quantity(drug, daily_dose, days)
        written = today - dt.timedelta(days=rng.randrange(330, 400))
        refills = 0 if therapy == TherapyType.ACUTE else (3 if days == 90 else 11)
        expiration = written + dt.timedelta(days=365 if drug.dea_schedule in ("", "2") else 182)
        if drug.dea_schedule == "2":
            refills = 0
        prescription = Prescription.objects.create(
            pharmacy=pharmacy,
            rx_number=rx_number,
            patient=patient,
            drug=drug,
            prescriber=rng.choice(prescribers),
            coverage=coverage,
            sig_text=sig,
            daily_dose=daily_dose,
            quantity_per_fill=quantity,
            days_supply=days,
            refills_authorized=refills,
            refills_remaining=refills,
            written_date=written,
            expiration_date=max(expiration, written),
            therapy_type=therapy,
        )
        fills = []
        if therapy != TherapyType.MAINTENANCE:
            fills.append((written + dt.timedelta(days=1), 0))
        else:
            # Late refills and the occasional gap: the adherence problems sync fixes.
            lateness = rng.choice([0, 1, 2, 3, 5, 8, 12])
            fill_date, number = written + dt.timedelta(days=rng.randrange(0, 4)), 0
            while fill_date <= today and number <= refills:
                fills.append((fill_date, number))
                delay = max(-3, int(rng.gauss(lateness, 3)))
                if rng.random() < 0.06:
                    delay += rng.randrange(15, 40)  # a missed month
                fill_date = fill_date + dt.timedelta(days=days + delay)
                number += 1
        rows = []
        copay = self._patient_pay(coverage, days)
        for fill_date, number in fills:
            picked_up = None
            if fill_date < today - dt.timedelta(days=2):
                picked_up = timezone.make_aware(
                    dt.datetime.combine(
                        fill_date + dt.timedelta(days=rng.randrange(0, 3)),
                        dt.time(10 + rng.randrange(0, 8), rng.randrange(0, 60)),
                    )
                )
            rows.append(
                Fill(
                    organization=patient.organization,
                    prescription=prescription,
                    fill_date=fill_date,
                    quantity=quantity,
                    days_supply=days,
                    fill_number=number,
                    patient_pay=copay,
                    picked_up_at=picked_up,
                )
            )
        Fill.objects.bulk_create(rows)
        used = max(0, len(rows) - 1)
        prescription.refills_remaining = max(0, refills - used)
        prescription.save(update_fields=["refills_remaining"])

    @staticmethod
    def _sig(drug: Drug, therapy, rng) -> tuple[Decimal, int, str]:
        form = drug.dosage_form
        if therapy == TherapyType.PRN:
            return Decimal("2"), 15, "Take 1 tablet by mouth every 6 hours as needed for pain"
        if therapy == TherapyType.ACUTE:
            return Decimal("3"), 10, "Take 1 capsule by mouth three times daily for 10 days"
        if form == "inhaler":
            size = drug.package_size
            return (size / 30).quantize(Decimal("0.0001")), 30, "Inhale 1 puff by mouth daily"
        if form == "pen":
            return Decimal("30"), 30, "Inject 30 units under the skin daily"
        if form == "eye_drops":
            return Decimal("0.1"), 25, "Instill 1 drop in each eye at bedtime"
        if form in ("solution", "suspension", "cream", "patch"):
            return Decimal("1"), 30, "Use as directed on the label daily"
        twice = rng.random() < 0.25
        days = 90 if rng.random() < 0.3 else 30
        if twice:
            return Decimal("2"), days, "Take 1 tablet by mouth twice daily"
        return Decimal("1"), days, "Take 1 tablet by mouth once daily"

    @staticmethod
    def _quantity(drug: Drug, daily_dose: Decimal, days: int) -> Decimal:
        if drug.unit_of_use:
            return drug.package_size
        if drug.dosage_form == "pen":
            return drug.package_size  # a box of pens, in units
        return (daily_dose * days).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    @staticmethod
    def _patient_pay(coverage: Coverage, days: int) -> Decimal:
        if coverage.copay_amount is not None:
            months = Decimal(max(1, days // 30))
            return (coverage.copay_amount * months).quantize(Decimal("0.01"))
        if coverage.coinsurance_percent is not None:
            return (
                Decimal("42.00") * coverage.coinsurance_percent / 100 * max(1, days // 30)
            ).quantize(Decimal("0.01"))
        return Decimal("18.00")
