"""The OpenAPI document: generated scope-free, truthful about blank and null values, and
listing every error status the API can answer with its one error shape.

`tests/api/test_schemathesis.py` holds the API to it: generated requests for every operation
and role, each response checked against this document.
"""

from __future__ import annotations

import copy

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from medsync.tenancy import scopes_disabled

ERROR_COMPONENT = "ErrorResponse"

# Status -> when the API answers it. Each has the body {"error": {"code", "message", "fields"}}.
ERROR_STATUSES = {
    "400": "The request is invalid: `fields` says what is wrong with each field.",
    "401": "No credentials, or a token that is invalid, expired or revoked.",
    "403": "Your role does not allow this, or you are not a member of any organization.",
    "404": "Not found, or not yours to see (another organization's or pharmacy's record).",
    "405": "The method is not allowed on this path.",
    "406": "The Accept header asks for something other than JSON.",
    "409": "The request conflicts with the record's current state.",
    "429": "Too many requests or failed sign-ins: try again later.",
}
# Only where the operation takes a request body.
BODY_ERROR_STATUSES = {
    "413": "The request body or an uploaded file is too large.",
    "415": "The request body's content type is not one this operation accepts.",
}


class ScopeFreeSchemaGenerator(SchemaGenerator):
    """Builds the OpenAPI document. Building serializers makes (never runs) the
    querysets of their unique validators, so generation is a named scope escape:
    it reads no rows."""

    def get_schema(self, request=None, public=False):
        with scopes_disabled():
            return super().get_schema(request=request, public=public)


def _model_field_of(field: serializers.Field) -> models.Field | None:
    meta = getattr(field.parent, "Meta", None)
    model = getattr(meta, "model", None)
    source = getattr(field, "source", None)
    if model is None or not source or source == "*" or "." in source:
        return None
    try:
        return model._meta.get_field(source)
    except FieldDoesNotExist:
        return None


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, told what read-only model fields really return.

    DRF drops `allow_blank` from read-only fields, so a choice column that may be blank
    (a message's `skip_reason`) would be documented as its enum alone while the API returns
    "". Here a read-only field keeps the blank and null of its model column."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        model_field = None
        if field.read_only and not isinstance(field, serializers.BaseSerializer):
            model_field = _model_field_of(field)
        if model_field is not None:
            blank = (
                isinstance(field, serializers.CharField | serializers.ChoiceField)
                and model_field.blank
                and not getattr(field, "allow_blank", False)
            )
            null = model_field.null and not field.allow_null
            if blank or null:
                field = copy.copy(field)
                field.allow_blank = field.allow_blank or blank
                field.allow_null = field.allow_null or null
        return super()._map_serializer_field(field, direction, bypass_extensions)


def error_schema() -> dict:
    """The one error shape of every 4xx (medsync.api.errors.error_body)."""
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string", "description": "Stable, e.g. `invalid`."},
                    "message": {"type": "string", "description": "For people."},
                    "fields": {
                        "type": "object",
                        "description": "Field name -> its messages (nested for nested fields).",
                        "additionalProperties": {},
                    },
                },
            }
        },
    }


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: every operation documents the error statuses it can answer,
    each with the shared ErrorResponse body."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = error_schema()
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = dict(ERROR_STATUSES)
            if "requestBody" in operation:
                statuses.update(BODY_ERROR_STATUSES)
            responses = operation["responses"]
            for code, description in statuses.items():
                responses.setdefault(
                    code,
                    {"content": {"application/json": {"schema": reference}}, "description": ""},
                )
                if not responses[code].get("description"):
                    responses[code]["description"] = description
            operation["responses"] = dict(sorted(responses.items()))
    return result
