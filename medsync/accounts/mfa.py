"""The second-factor rules, without the ORM: who must use one, who may have a device
remembered, and the signed remember-this-device cookie."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from medsync.roles import Role

REMEMBER_DEVICE_COOKIE = "medsync_mfa_device"
REMEMBER_DEVICE_FOR = timedelta(hours=12)
_REMEMBER_SALT = "medsync.accounts.remember-device"
RECOVERY_CODE_COUNT = 10


@dataclass(frozen=True)
class Place:
    """One membership as the rules see it."""

    role: str
    technicians_need_mfa: bool
    technicians_may_remember_device: bool


def mfa_required(*, is_staff: bool, places: Iterable[Place]) -> bool:
    """Must this person sign in with a second factor before they can use anything?

    Platform staff, owners and pharmacists: always. Technicians: unless every organization
    they work for has turned the requirement off. Someone in no organization: yes (fail
    closed; they can see nothing anyway).
    """
    places = list(places)
    if is_staff or not places:
        return True
    return any(p.role != Role.TECHNICIAN or p.technicians_need_mfa for p in places)


def may_remember_device(*, is_staff: bool, places: Iterable[Place]) -> bool:
    """A device may skip the code for 12 hours only for someone who is a technician in
    every organization they work for, each of which allows it; never for staff."""
    places = list(places)
    return (
        not is_staff
        and bool(places)
        and all(p.role == Role.TECHNICIAN and p.technicians_may_remember_device for p in places)
    )


def _password_fingerprint(password_hash: str) -> str:
    # A password change (or reset) changes the hash and so voids every remembered device.
    return salted_hmac(_REMEMBER_SALT, password_hash, algorithm="sha256").hexdigest()[:32]


def remember_device_cookie(*, user_public_id: str, password_hash: str) -> str:
    """The signed, timestamped value of the remember-this-device cookie."""
    return signing.dumps(
        {"u": str(user_public_id), "p": _password_fingerprint(password_hash)},
        salt=_REMEMBER_SALT,
        compress=True,
    )


def remembered_device_ok(value: str, *, user_public_id: str, password_hash: str) -> bool:
    """True when `value` was issued for this user and password less than 12 hours ago."""
    if not value:
        return False
    try:
        data = signing.loads(
            value, salt=_REMEMBER_SALT, max_age=REMEMBER_DEVICE_FOR.total_seconds()
        )
    except signing.BadSignature:  # includes SignatureExpired
        return False
    return (
        isinstance(data, dict)
        and constant_time_compare(str(data.get("u", "")), str(user_public_id))
        and constant_time_compare(str(data.get("p", "")), _password_fingerprint(password_hash))
    )


def normalize_code(raw: str) -> str:
    """What people type: spaces and dashes dropped, lower case (recovery codes)."""
    return "".join(ch for ch in (raw or "") if ch not in " -\t").lower()[:32]
