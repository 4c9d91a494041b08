"""The messaging API: messages (list, send), conversations (inbox actions), templates.

Every id is a public id (UUID). Reading a patient's texts writes a
patients.patient.viewed audit event, as the pages do.
"""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from medsync.api.base import TenantAPIMixin
from medsync.models import Membership
from medsync.roles import Perm
from medsync.services import audit_record
from messaging import rules, selectors, services
from messaging.defaults import DEFAULT_TEMPLATES, TEMPLATE_KINDS
from messaging.models import (
    AUTOMATED_KINDS,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    MessageTemplate,
)
from patients.services import patient_viewed


def _uuid_param(request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise ValidationError({name: ["Give a public id (UUID)."]}) from None


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(
        source="patient.public_id", read_only=True, default=None, allow_null=True
    )
    conversation = serializers.UUIDField(
        source="conversation.public_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "patient",
            "direction",
            "kind",
            "body",
            "status",
            "to_number",
            "from_number",
            "due_at",
            "defer_reason",
            "skip_reason",
            "sent_at",
            "delivered_at",
            "error_code",
            "intent",
            "intent_applied",
            "needs_review",
            "read_at",
            "created_at",
        ]
        read_only_fields = fields


class SendSerializer(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    conversation = serializers.UUIDField(required=False)
    body = serializers.CharField(max_length=services.MANUAL_MAX_CHARS)
    outside_window = serializers.ChoiceField(
        choices=[services.QUIET_WARN, services.QUIET_SEND, services.QUIET_HOLD],
        default=services.QUIET_WARN,
        help_text="Outside the patient's texting hours: warn (409, nothing sent), send now, "
        "or hold until the window opens.",
    )

    def validate(self, attrs):
        if bool(attrs.get("patient")) == bool(attrs.get("conversation")):
            raise serializers.ValidationError("Give either a patient or a conversation.")
        return attrs


class MessageViewSet(
    TenantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Texts both ways. Filter with ?patient=, ?conversation=, ?direction=, ?status=.

    POST sends a staff text (refused when the number opted out; outside the patient's
    texting hours it answers 409 unless outside_window is "send" or "hold")."""

    serializer_class = MessageSerializer
    required_permission = Perm.REPLY_MESSAGES
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    queryset = Message.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("patient", str, description="Patient public id"),
            OpenApiParameter("conversation", str, description="Conversation public id"),
            OpenApiParameter("direction", str, enum=["in", "out"]),
            OpenApiParameter("status", str, enum=MessageStatus.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        request = self.request
        patient = conversation = None
        if self.action == "list":
            patient_id = _uuid_param(request, "patient")
            if patient_id is not None:
                patient = selectors.patient_for_member(request.membership, patient_id)
                if patient is None:
                    raise NotFound()
                patient_viewed(patient=patient, actor=request.user, via="api.messages")
            conversation_id = _uuid_param(request, "conversation")
            if conversation_id is not None:
                conversation = selectors.conversation_for_member(
                    request.membership, conversation_id
                )
                if conversation is None:
                    raise NotFound()
        direction = request.query_params.get("direction", "")
        if direction and direction not in Direction.values:
            raise ValidationError({"direction": ["Use in or out."]})
        state = request.query_params.get("status", "")
        if state and state not in MessageStatus.values:
            raise ValidationError({"status": [f"Use one of {', '.join(MessageStatus.values)}."]})
        return selectors.messages_list(
            patient=patient,
            conversation=conversation,
            direction=direction,
            status=state,
            membership=request.membership,
        )

    def retrieve(self, request, *args, **kwargs):
        message = self.get_object()
        if message.patient is not None:
            patient_viewed(patient=message.patient, actor=request.user, via="api.message")
        return Response(MessageSerializer(message).data)

    @extend_schema(request=SendSerializer, responses={201: MessageSerializer})
    def create(self, request, *args, **kwargs):
        data = SendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("conversation"):
            conversation = selectors.conversation_for_member(
                request.membership, values["conversation"]
            )
            if conversation is None:
                raise NotFound()
        else:
            patient = selectors.patient_for_member(request.membership, values["patient"])
            if patient is None:
                raise NotFound()
            if not patient.phone:
                raise ValidationError({"patient": ["The patient has no phone number."]})
            conversation = services.conversation_get_or_create(
                phone=patient.phone, pharmacy=selectors.sending_pharmacy(patient), patient=patient
            )
        message = services.manual_message_send(
            conversation=conversation,
            body=values["body"],
            actor=request.user,
            outside_window=values["outside_window"],
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ConversationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.SerializerMethodField()
    pharmacy = serializers.UUIDField(
        source="pharmacy.public_id", read_only=True, default=None, allow_null=True
    )
    assigned_to = serializers.SerializerMethodField()
    unread = serializers.IntegerField(read_only=True, default=0)
    last_body = serializers.CharField(read_only=True, default="")

    class Meta:
        model = Conversation
        fields = [
            "id",
            "phone",
            "patient",
            "pharmacy",
            "status",
            "assigned_to",
            "unread",
            "last_body",
            "last_message_at",
            "last_inbound_at",
            "closed_at",
        ]
        read_only_fields = fields

    def get_patient(self, obj) -> dict | None:
        if obj.patient is None:
            return None
        return {
            "id": str(obj.patient.public_id),
            "first_name": obj.patient.first_name,
            "last_name": obj.patient.last_name,
        }

    def get_assigned_to(self, obj) -> dict | None:
        if obj.assigned_to is None:
            return None
        return {"id": str(obj.assigned_to.public_id), "email": obj.assigned_to.email}


class AssignSerializer(serializers.Serializer):
    assignee = serializers.UUIDField(allow_null=True, help_text="A member's user id, or null.")


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=services.MANUAL_MAX_CHARS)
    outside_window = serializers.ChoiceField(
        choices=[services.QUIET_WARN, services.QUIET_SEND, services.QUIET_HOLD],
        default=services.QUIET_WARN,
    )


class ConversationViewSet(
    TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The inbox: ?view=unread|mine|open|closed|all (default all), ?q= name or phone digits."""

    serializer_class = ConversationSerializer
    required_permission = Perm.REPLY_MESSAGES
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    queryset = Conversation.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        view = self.request.query_params.get("view", "all")
        if view not in selectors.INBOX_VIEWS:
            raise ValidationError({"view": [f"Use one of {', '.join(selectors.INBOX_VIEWS)}."]})
        return selectors.conversations_for_inbox(
            self.request.membership,
            view=view,
            query=self.request.query_params.get("q", "").strip()[:60],
        )

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit_record(
            action="messaging.conversation.listed",
            actor=request.user,
            metadata={"via": "api", "count": response.data.get("count", 0)},
        )
        return response

    def _conversation(self) -> Conversation:
        return self.get_object()

    def retrieve(self, request, *args, **kwargs):
        conversation = self._conversation()
        if conversation.patient is not None:
            patient_viewed(patient=conversation.patient, actor=request.user, via="api.conversation")
        return Response(ConversationSerializer(conversation).data)

    @extend_schema(request=AssignSerializer, responses=ConversationSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, id=None):
        conversation = self._conversation()
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = None
        if data.validated_data["assignee"] is not None:
            member = (
                Membership.objects.select_related("user")
                .filter(user__public_id=data.validated_data["assignee"])
                .first()
            )
            if member is None:
                raise ValidationError({"assignee": ["Not a member of this organization."]})
            assignee = member.user
        services.conversation_assign(
            conversation=conversation, assignee=assignee, actor=request.user
        )
        return Response(ConversationSerializer(self._conversation()).data)

    @extend_schema(request=None, responses=ConversationSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, id=None):
        services.conversation_close(conversation=self._conversation(), actor=request.user)
        return Response(ConversationSerializer(self._conversation()).data)

    @extend_schema(request=None, responses=ConversationSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, id=None):
        services.conversation_reopen(conversation=self._conversation(), actor=request.user)
        return Response(ConversationSerializer(self._conversation()).data)

    @extend_schema(request=None, responses=ConversationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, id=None):
        services.conversation_mark_read(conversation=self._conversation(), actor=request.user)
        return Response(ConversationSerializer(self._conversation()).data)

    @extend_schema(request=ReplySerializer, responses={201: MessageSerializer})
    @action(detail=True, methods=["post"])
    def reply(self, request, id=None):
        conversation = self._conversation()
        data = ReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.manual_message_send(
            conversation=conversation, actor=request.user, **data.validated_data
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class TemplateSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, allow_null=True)
    kind = serializers.ChoiceField(choices=[str(k) for k in TEMPLATE_KINDS])
    language = serializers.ChoiceField(choices=["en", "es"])
    body = serializers.CharField(max_length=1000, trim_whitespace=False)
    custom = serializers.BooleanField(read_only=True)
    automated = serializers.BooleanField(read_only=True)
    longest_length = serializers.IntegerField(read_only=True)


def _template_row(
    kind: str, language: str, template: MessageTemplate | None, *, pharmacy_name_max=None
) -> dict:
    body = template.body if template else DEFAULT_TEMPLATES[(kind, language)]
    if pharmacy_name_max is None:
        longest = selectors.template_check(kind=kind, language=language, body=body).longest_length
    else:  # a list: only the length is shown, measured with the name read once
        longest = rules.check_template(
            body,
            language=language,
            automated=kind in AUTOMATED_KINDS,
            pharmacy_name_max=pharmacy_name_max,
        ).longest_length
    return {
        "id": template.public_id if template else None,
        "kind": str(kind),
        "language": language,
        "body": body,
        "custom": template is not None,
        "automated": kind in AUTOMATED_KINDS,
        "longest_length": longest,
    }


class TemplateViewSet(TenantAPIMixin, viewsets.ViewSet):
    """Every kind of text in English and Spanish: the organization's wording or the built-in.

    POST {kind, language, body} saves (validated: 160 characters with the longest values, no
    drug or condition, STOP in automated texts); DELETE /{kind}/{language}/ goes back to the
    built-in; POST preview/ checks without saving."""

    required_permission = {
        "list": Perm.REPLY_MESSAGES,
        "preview": Perm.REPLY_MESSAGES,
        "create": Perm.MANAGE_PHARMACIES,
        "reset": Perm.MANAGE_PHARMACIES,
    }
    serializer_class = TemplateSerializer

    @extend_schema(responses=TemplateSerializer(many=True))
    def list(self, request):
        overrides = selectors.templates_by_key()
        pharmacy_name_max = selectors.longest_pharmacy_name()  # once, not per template
        rows = [
            _template_row(
                kind, language, overrides.get((kind, language)), pharmacy_name_max=pharmacy_name_max
            )
            for kind in TEMPLATE_KINDS
            for language in ("en", "es")
        ]
        return Response(TemplateSerializer(rows, many=True).data)

    @extend_schema(request=TemplateSerializer, responses={201: TemplateSerializer})
    def create(self, request):
        data = TemplateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        template = services.template_save(
            kind=values["kind"],
            language=values["language"],
            body=values["body"],
            actor=request.user,
        )
        return Response(
            TemplateSerializer(_template_row(template.kind, template.language, template)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=TemplateSerializer,
        responses=inline_serializer(
            "TemplatePreview",
            {
                "ok": serializers.BooleanField(),
                "errors": serializers.DictField(),
                "longest_length": serializers.IntegerField(),
                "segments": serializers.IntegerField(),
            },
        ),
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        data = TemplateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        check = selectors.template_check(
            kind=values["kind"], language=values["language"], body=values["body"]
        )
        return Response(
            {
                "ok": check.ok,
                "errors": check.errors,
                "longest_length": check.longest_length,
                "segments": rules.segments(check.longest_render or values["body"])[1],
            }
        )

    @extend_schema(request=None, responses={204: None})
    @action(
        detail=False,
        methods=["delete"],
        url_path=r"(?P<kind>[a-z_]+)/(?P<language>en|es)",
        url_name="reset",
    )
    def reset(self, request, kind=None, language=None):
        if (kind, language) not in DEFAULT_TEMPLATES:
            raise NotFound()
        services.template_reset(kind=kind, language=language, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
