"""Second-factor helpers for tests: a known TOTP secret and the code it gives now."""

from __future__ import annotations

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

# RFC 6238's published test secret ("12345678901234567890"), for tests only.
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"


def enroll_totp(user, key: str = TEST_TOTP_KEY) -> TOTPDevice:
    """The user's confirmed authenticator, created with `key` if they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name="Authenticator app", key=key, confirmed=True
        )
    return device


def totp_now(device: TOTPDevice, *, fresh: bool = True) -> str:
    """The code the app would show now. `fresh` forgets the last accepted time step and any
    throttling: django-otp accepts each code once, and tests sign in many times a step."""
    if fresh:
        TOTPDevice.objects.filter(pk=device.pk).update(
            last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
        )
        device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
