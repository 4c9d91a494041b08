"""Pushes from a pharmacy system (medsync.webhooks): a new prescription or fill, validated
exactly as the API validates it (the same serializers), saved by the same services.

A push acts for no member: it sees the whole organization, as a job does.
"""

from __future__ import annotations

from types import SimpleNamespace

from medsync.tenancy import current_organization
from patients.api.serializers import FillSerializer, PrescriptionSerializer


def _context() -> dict:
    organization = current_organization()
    membership = SimpleNamespace(limited_to_pharmacies=False, organization=organization, role=None)
    return {"request": SimpleNamespace(user=None, membership=membership)}


def _create(serializer_class, data: dict) -> dict:
    serializer = serializer_class(data=data, context=_context())
    serializer.is_valid(raise_exception=True)
    record = serializer.save()
    return {"id": str(record.public_id)}


def prescription_pushed(data: dict) -> dict:
    return _create(PrescriptionSerializer, data)


def fill_pushed(data: dict) -> dict:
    return _create(FillSerializer, data)
