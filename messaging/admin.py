"""Admin for platform staff (scopes disabled by the TenantMiddleware). Texts are read-only."""

from django.contrib import admin

from messaging.models import ConsentEvent, Message, MessageTemplate, PharmacySmsConfig


@admin.register(PharmacySmsConfig)
class PharmacySmsConfigAdmin(admin.ModelAdmin):
    list_display = ["pharmacy", "organization", "account_sid", "auth_token_env"]
    readonly_fields = ["organization", "public_id"]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["organization", "kind", "language", "updated_at"]
    list_filter = ["kind", "language"]
    readonly_fields = ["organization", "public_id", "updated_by"]


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnly):
    list_display = ["created_at", "organization", "direction", "kind", "status"]
    list_filter = ["direction", "kind", "status"]


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnly):
    list_display = ["occurred_at", "organization", "kind", "method"]
    list_filter = ["kind"]
