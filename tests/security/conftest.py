"""Security tests reuse the messaging fixtures (SMS numbers, consenting patients)."""

from tests.messaging.conftest import (  # noqa: F401 - fixtures
    _messaging_defaults,
    make_patient,
    sms_maple,
)
