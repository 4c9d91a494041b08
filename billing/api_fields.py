"""API fields and serializers of service billing that scheduling's API reuses."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework import serializers

from billing.models import ServiceKind

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2099, 12, 31, tzinfo=dt.UTC)


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time between 1900 and 2099 (a 400 naming the field outside)."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        try:
            aware = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
            inside = EARLIEST <= aware <= LATEST
        except (OverflowError, ValueError):
            inside = False
        if not inside:
            raise serializers.ValidationError("A date-time between 1900 and 2099.")
        return aware


class ServiceDocumentationSerializer(serializers.Serializer):
    """What a pharmacist records about a performed service (DOMAIN 9)."""

    started_at = BoundedDateTimeField(required=False)
    ended_at = BoundedDateTimeField(required=False)
    new_patient = serializers.BooleanField(default=True)
    assessed = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    findings = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    actions = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    diagnosis_codes = serializers.ListField(
        child=serializers.CharField(max_length=8), max_length=12, required=False
    )
    procedure_code = serializers.CharField(max_length=5, required=False, allow_blank=True)
    follow_up = serializers.CharField(max_length=500, required=False, allow_blank=True)
    follow_up_on = serializers.DateField(required=False, allow_null=True)
    payer = serializers.UUIDField(required=False, allow_null=True)
    coverage = serializers.UUIDField(required=False, allow_null=True)

    def validate_follow_up_on(self, value):
        if value is not None and not dt.date(1900, 1, 1) <= value <= dt.date(2099, 12, 31):
            raise serializers.ValidationError("A date between 1900 and 2099.")
        return value


class ServiceCreateSerializer(ServiceDocumentationSerializer):
    """A service documented without an appointment (a walk-in vaccination, say)."""

    patient = serializers.UUIDField()
    pharmacy = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=ServiceKind.choices)
    started_at = BoundedDateTimeField()
    ended_at = BoundedDateTimeField()
