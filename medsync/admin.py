"""Admin for platform staff only. The TenantMiddleware disables scopes for staff here."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

from medsync.accounts.services import mfa_reset, password_changed
from medsync.models import ApiToken, AuditEvent, Membership, Organization, Pharmacy, User


class VerifiedAdminSite(admin.AdminSite):
    """The admin needs platform staff who have passed their second factor in this session
    (MfaRequiredMiddleware already sends everyone else to it; this is the second lock).
    Sign-in goes through the site's own login page, never a separate admin form."""

    def has_permission(self, request):
        is_verified = getattr(request.user, "is_verified", None)
        return super().has_permission(request) and is_verified is not None and is_verified()

    def login(self, request, extra_context=None):
        return redirect_to_login(request.get_full_path(), reverse("login"))


admin.site.__class__ = VerifiedAdminSite


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    actions = ["reset_second_factor"]

    @admin.action(description="Reset second factor (revokes tokens, signs out everywhere)")
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            mfa_reset(user=user, actor=request.user)
        self.message_user(request, f"Reset the second factor of {queryset.count()} user(s).")

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            keep = request.session.session_key if user.pk == request.user.pk else None
            password_changed(user=user, actor=request.user, keep_session_key=keep)
        return response

    list_display = ["email", "full_name", "is_active", "is_staff", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id"]


@admin.register(Pharmacy)
class PharmacyAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "ncpdp_id", "state", "time_zone"]
    list_filter = ["state"]
    search_fields = ["name", "ncpdp_id", "npi"]
    readonly_fields = ["organization", "public_id"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role"]
    readonly_fields = ["organization", "public_id"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = [f.name for f in ApiToken._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: no add, change or delete path exists."""

    list_display = ["occurred_at", "action", "organization", "actor", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["action", "object_id", "request_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
