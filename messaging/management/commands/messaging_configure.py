"""Point a pharmacy at its Twilio account (the auth token stays in the environment).

    python manage.py messaging_configure --org maple --pharmacy 5012345 \\
        --account-sid AC... --auth-token-env TWILIO_AUTH_TOKEN_MAPLE [--messaging-service-sid MG...]
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.management.base import CommandError

from medsync.management.base import TenantCommand
from medsync.models import Pharmacy
from messaging import selectors, services
from messaging.exceptions import MessagingError


class Command(TenantCommand):
    help = "Set a pharmacy's Twilio account SID, auth token variable and messaging service."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--pharmacy", required=True, help="NCPDP ID or SMS number.")
        parser.add_argument("--account-sid", default="")
        parser.add_argument(
            "--auth-token-env",
            default="",
            help="NAME of the environment variable that holds the auth token.",
        )
        parser.add_argument("--messaging-service-sid", default="")
        parser.add_argument("--max-per-second", default="", help="Blank: MESSAGING_SENDER_RATE.")

    def handle_in_tenant(self, organization, *args, **options):
        key = options["pharmacy"]
        pharmacy = (
            Pharmacy.objects.filter(ncpdp_id=key).first()
            or Pharmacy.objects.filter(sms_number=key).first()
        )
        if pharmacy is None:
            raise CommandError(f"No pharmacy of {organization.slug} has NCPDP ID or number {key}.")
        rate = None
        if options["max_per_second"]:
            try:
                rate = Decimal(options["max_per_second"])
            except InvalidOperation:
                raise CommandError("--max-per-second must be a number.") from None
        try:
            config = services.pharmacy_sms_config_save(
                pharmacy=pharmacy,
                actor=None,
                account_sid=options["account_sid"],
                auth_token_env=options["auth_token_env"],
                messaging_service_sid=options["messaging_service_sid"],
                max_per_second=rate,
            )
        except MessagingError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"Nothing was saved. {problems}") from None
        _, token = selectors.credentials_for(pharmacy)
        self.stdout.write(
            self.style.SUCCESS(
                f"{pharmacy.name}: Twilio account {config.account_sid or '(default)'}"
            )
        )
        if not token:
            self.stdout.write(
                self.style.WARNING(
                    f"The environment variable {config.auth_token_env or 'TWILIO_AUTH_TOKEN'} is "
                    "not set here: set it where the web and the workers run."
                )
            )
