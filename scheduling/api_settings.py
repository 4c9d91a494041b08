"""A pharmacy's sync settings in the API: `GET/PATCH /api/v1/pharmacies/{id}/sync-settings/`.

Beside the pharmacy's own settings (`PATCH /api/v1/pharmacies/{id}/`, in medsync, which must
not import the sync engine): prep and pre-fill lead, closed weekdays, the missed-pickup and
return-to-stock warning days and the daily anchor capacity. Owners (the page's permission);
another organization's pharmacy, or one the member is not limited to, is a 404. A PATCH names
any subset; the rest keep their values; a bad value is a 400 naming its field and saves nothing.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from medsync.api.base import TenantAPIView
from medsync.roles import Perm
from medsync.selectors import pharmacies_visible_to
from scheduling import selectors, services


class SyncSettingsSerializer(serializers.Serializer):
    prep_days = serializers.IntegerField(min_value=1, max_value=14)
    prefill_days = serializers.IntegerField(min_value=0, max_value=10)
    closed_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), max_length=6
    )
    missed_after_days = serializers.IntegerField(min_value=1, max_value=14)
    rts_warning_days = serializers.IntegerField(min_value=0, max_value=14)
    daily_anchor_capacity = serializers.IntegerField(min_value=1, allow_null=True)


FIELDS = tuple(SyncSettingsSerializer().fields)


def _as_json(row) -> dict:
    return {name: getattr(row, name) for name in FIELDS}


class PharmacySyncSettingsView(TenantAPIView):
    required_permission = Perm.MANAGE_PHARMACIES

    def _pharmacy(self, request, id):
        pharmacy = pharmacies_visible_to(request.membership).filter(public_id=id).first()
        if pharmacy is None:
            raise NotFound()
        return pharmacy

    @extend_schema(responses=SyncSettingsSerializer)
    def get(self, request, id):
        return Response(_as_json(selectors.sync_settings_for(self._pharmacy(request, id))))

    @extend_schema(request=SyncSettingsSerializer, responses=SyncSettingsSerializer)
    def patch(self, request, id):
        pharmacy = self._pharmacy(request, id)
        given = SyncSettingsSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        current = _as_json(selectors.sync_settings_for(pharmacy))
        row = services.sync_settings_update(
            pharmacy=pharmacy, actor=request.user, **{**current, **given.validated_data}
        )
        return Response(_as_json(row))
