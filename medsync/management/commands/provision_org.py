from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from medsync.models import US_STATES
from medsync.services import organization_provision


class Command(BaseCommand):
    help = "Create an organization, its first pharmacy and its owner (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--password", required=True, help="The owner's first password.")
        parser.add_argument("--pharmacy-name", default="", help="Default: the organization's name.")
        parser.add_argument("--state", default="WI", choices=[code for code, _ in US_STATES])
        parser.add_argument("--time-zone", default="America/Chicago")

    def handle(self, *args, **options):
        try:
            organization, pharmacy, owner = organization_provision(
                name=options["name"],
                slug=options["slug"],
                owner_email=options["owner_email"],
                owner_password=options["password"],
                pharmacy_name=options["pharmacy_name"],
                state=options["state"],
                time_zone=options["time_zone"],
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(f"Nothing was created. {problems}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {organization.name} ({organization.slug}) with pharmacy "
                f"{pharmacy.name!r} and owner {owner.email}."
            )
        )
        if pharmacy.missing_for_operation:
            self.stdout.write(
                "Before claims and patient texts, add the pharmacy's "
                + ", ".join(pharmacy.missing_for_operation)
                + "."
            )
