"""Idempotent demo data: Maple Pharmacy (owner, pharmacist, technician) and Birch Rx."""

import base64
import hashlib

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from medsync.models import Membership, MembershipPharmacy, Organization, Pharmacy, User
from medsync.roles import Role
from medsync.tenancy import tenant_scope

DEMO_PASSWORD = "medsync-demo-2026"


def demo_totp_key(email: str) -> str:
    """The demo-only authenticator key of a demo login (hex, 20 bytes)."""
    return hashlib.sha1(f"medsync-demo-only-totp:{email}".encode()).hexdigest()  # noqa: S324 - a demo key, not a password hash


ORGANIZATIONS = [
    {
        "slug": "maple",
        "name": "Maple Pharmacy",
        "pharmacies": [
            {
                "name": "Maple Pharmacy Main St",
                "ncpdp_id": "5012345",
                "npi": "1245319599",
                "address_line1": "120 Main St",
                "city": "Madison",
                "state": "WI",
                "postal_code": "53703",
                "time_zone": "America/Chicago",
                "phone": "+16085550134",
                "sms_number": "+16085550100",
            },
            {
                "name": "Maple Pharmacy Elm Ave",
                "ncpdp_id": "5012346",
                "npi": "1003000126",
                "address_line1": "48 Elm Ave",
                "city": "Middleton",
                "state": "WI",
                "postal_code": "53562",
                "time_zone": "America/Chicago",
                "phone": "+16085550177",
                "sms_number": "+16085550101",
            },
        ],
        "members": [
            ("owner@maple.example", "Olivia Owner", Role.OWNER),
            ("pharmacist@maple.example", "Paul Pharmacist", Role.PHARMACIST),
            ("tech@maple.example", "Tara Technician", Role.TECHNICIAN),
        ],
    },
    {
        "slug": "birch",
        "name": "Birch Rx",
        "pharmacies": [
            {
                "name": "Birch Rx",
                "ncpdp_id": "3398765",
                "npi": "1497758544",
                "address_line1": "9 Birch Rd",
                "city": "Asheville",
                "state": "NC",
                "postal_code": "28801",
                "time_zone": "America/New_York",
                "phone": "+18285550199",
                "sms_number": "+18285550100",
            }
        ],
        "members": [("pharmacist@birch.example", "Bea Birch", Role.PHARMACIST)],
    },
]

APP_SEEDERS = ["patients", "billing", "scheduling", "claims", "messaging", "reports"]

# One person who works in both: shows the organization switcher.
FLOATER = (
    "floater@medsync.example",
    "Finn Floater",
    {"maple": Role.PHARMACIST, "birch": Role.TECHNICIAN},
)


class Command(BaseCommand):
    help = "Create or refresh the demo organizations and logins (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        logins = []
        for spec in ORGANIZATIONS:
            organization, _ = Organization.objects.update_or_create(
                slug=spec["slug"], defaults={"name": spec["name"], "is_active": True}
            )
            with tenant_scope(organization):
                for pharmacy_spec in spec["pharmacies"]:
                    pharmacy, _ = Pharmacy.objects.update_or_create(
                        ncpdp_id=pharmacy_spec["ncpdp_id"], defaults=pharmacy_spec
                    )
                    pharmacy.full_clean()
                for email, name, role in spec["members"]:
                    self._member(email, name, role)
                    logins.append((organization.name, role.label, email))
                floater_role = FLOATER[2].get(spec["slug"])
                if floater_role:
                    self._member(FLOATER[0], FLOATER[1], floater_role)
                    logins.append((organization.name, floater_role.label, FLOATER[0]))
                if spec["slug"] == "maple":
                    # The technician works at Main St only: shows location limits.
                    tech = Membership.objects.get(user__email="tech@maple.example")
                    tech.limited_to_pharmacies = True
                    tech.save(update_fields=["limited_to_pharmacies"])
                    main_st = Pharmacy.objects.get(ncpdp_id="5012345")
                    MembershipPharmacy.objects.get_or_create(membership=tech, pharmacy=main_st)

        # Each app adds its own demo rows with a `seed_demo_<app>` command, in import order.
        for app in APP_SEEDERS:
            if f"seed_demo_{app}" in get_commands():
                call_command(f"seed_demo_{app}", stdout=self.stdout)

        self.stdout.write(
            self.style.SUCCESS(f"Demo data is ready. Logins (password for all: {DEMO_PASSWORD}):")
        )
        self.stdout.write(
            "  Each login also asks for a code: add the key to an authenticator app, or use the "
            "code shown (it changes every 30 s; `python manage.py seed_demo` prints fresh ones)."
        )
        for organization_name, role, email in logins:
            secret, code = self._demo_second_factor(email)
            self.stdout.write(
                f"  {organization_name:<16} {role:<11} {email:<26} key {secret}  code now {code}"
            )

    def _demo_second_factor(self, email: str) -> tuple[str, str]:
        """Every demo login gets an authenticator with a fixed key (demo only: derived from
        the email, printed here), so the demo and its browser tests can sign in."""
        user = User.objects.get(email=email)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, name="Authenticator app", key=demo_totp_key(email), confirmed=True
            )
        secret = base64.b32encode(device.bin_key).decode()
        code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        return secret, f"{code:06d}"

    def _member(self, email: str, name: str, role: Role) -> None:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, DEMO_PASSWORD, full_name=name)
        Membership.objects.update_or_create(user=user, defaults={"role": role})
