"""One error shape for every API 4xx: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from medsync.exceptions import MedSyncError


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _fields(detail) -> dict:
    if not isinstance(detail, dict):
        return {}
    return {
        key: (_fields(value) if isinstance(value, dict) else [str(m) for m in _flatten(value)])
        for key, value in detail.items()
        if key not in ("non_field_errors", "__all__")
    }


def exception_handler(exc, context):
    if isinstance(exc, MedSyncError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a 500: logged by Django, answered by handler500
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = _fields(detail)
        general = []
        if isinstance(detail, dict):
            general = _flatten(detail.get("non_field_errors", [])) + _flatten(
                detail.get("__all__", [])
            )
        elif isinstance(detail, list):
            general = _flatten(detail)
        message = " ".join(general) or "Some fields are invalid: see fields."
        response.data = error_body("invalid", message, fields)
        return response
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    if not isinstance(code, str):
        code = "error"
    message = " ".join(_flatten(exc.detail)) if hasattr(exc, "detail") else str(exc)
    response.data = error_body(code, message)
    if response.status_code == status.HTTP_404_NOT_FOUND:
        response.data = error_body("not_found", "Not found.")
    return response
