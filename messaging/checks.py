"""System checks: Twilio in production needs a public URL for callbacks and signatures."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def twilio_configuration(app_configs, **kwargs):
    problems = []
    if settings.MESSAGING_GATEWAY == "twilio":
        if not settings.MESSAGING_PUBLIC_BASE_URL:
            problems.append(
                Error(
                    "MESSAGING_GATEWAY=twilio needs MESSAGING_PUBLIC_BASE_URL (the https origin "
                    "Twilio calls) for status callbacks and webhook signatures.",
                    id="messaging.E001",
                )
            )
        elif not settings.MESSAGING_PUBLIC_BASE_URL.startswith("https://") and not settings.DEBUG:
            problems.append(
                Warning(
                    "MESSAGING_PUBLIC_BASE_URL should be https in production.",
                    id="messaging.W001",
                )
            )
    return problems
