"""Signatures of webhook bodies: HMAC-SHA256 over "<timestamp>.<body>" (no Django here).

The header is `X-MedSync-Signature: t=<unix seconds>,v1=<hex digest>`, the same both ways:
MedSync signs what it sends, and a pharmacy system signs what it pushes in. A receiver
recomputes the digest with the shared secret, compares in constant time and refuses a
timestamp outside the replay window.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-MedSync-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The signature is missing, malformed, wrong or too old; the message says which."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{int(timestamp)}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},v1={sign(secret, timestamp, body)}"


def parse_header(value: str) -> tuple[int, list[str]]:
    """(timestamp, the v1 digests) of a header value; SignatureError when malformed."""
    timestamp, digests = None, []
    for part in (value or "").split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit() and len(item) <= 12:
            timestamp = int(item)
        elif key == "v1" and len(item) == 64:
            digests.append(item)
    if timestamp is None or not digests:
        raise SignatureError(f"Send {HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256>.")
    return timestamp, digests


def verify(
    secret: str, value: str, body: bytes, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> int:
    """The signed timestamp when `value` signs `body` with `secret` within the window."""
    timestamp, digests = parse_header(value)
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"The timestamp is more than {tolerance} seconds from ours.")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, digest) for digest in digests):
        raise SignatureError("The signature does not match the body.")
    return timestamp
