"""The imports API: upload CSV files, read the preview, confirm to import the good rows."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from medsync.api.base import TenantAPIMixin
from medsync.jobs import enqueue_for_organization
from medsync.roles import Perm
from patients import services
from patients.models import ImportBatch


# What one file of a batch did (or would do): counts and problem rows.
class ImportFileSerializer(serializers.Serializer):
    filename = serializers.CharField()
    kind = serializers.CharField()
    rows_total = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField(), help_text="[{line, reason}]")
    warnings = serializers.ListField(child=serializers.DictField())


# A batch of uploaded files: its status, per-file results and progress.
class ImportBatchSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    files = ImportFileSerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "status",
            "source",
            "created_at",
            "previewed_at",
            "apply_requested_at",
            "applied_at",
            "failure_message",
            "files",
            "progress",
        ]

    def get_progress(self, batch) -> dict | None:
        return services.import_progress(batch)


class ImportViewSet(
    TenantAPIMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Upload CSV files (multipart, field `files`, repeatable); they are checked in the
    background (status `previewing` -> `previewed`). Read the preview, then POST
    `confirm/` to import the good rows (`applying` -> `applied`)."""

    serializer_class = ImportBatchSerializer
    required_permission = Perm.IMPORT_RECORDS
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    queryset = ImportBatch.objects.none()
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return ImportBatch.objects.prefetch_related("files").order_by("-created_at")

    @extend_schema(
        request=inline_serializer(
            "ImportUpload",
            {"files": serializers.ListField(child=serializers.FileField())},
        ),
        responses={201: ImportBatchSerializer},
    )
    def create(self, request, *args, **kwargs):
        uploads = request.FILES.getlist("files")
        try:
            files = services.read_uploads(uploads)
            batch = services.import_batch_create(files=files, source="api", actor=request.user)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        enqueue_for_organization(
            "patients.import_preview", request.organization, batch_id=str(batch.public_id)
        )
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: ImportBatchSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, id=None):
        batch = self.get_object()
        if not services.import_batch_request_apply(batch=batch, actor=request.user):
            raise ValidationError(
                {
                    "status": [
                        "Only a previewed import that nobody confirmed yet can be confirmed "
                        f"(this one is {batch.status})."
                    ]
                }
            )
        batch.refresh_from_db()
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)
