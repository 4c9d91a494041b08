from django.contrib.auth import views as auth_views
from django.urls import path

from medsync.accounts import views

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/mfa/verify/", views.mfa_verify_page, name="mfa-verify"),
    path("accounts/mfa/enroll/", views.mfa_enroll_page, name="mfa-enroll"),
    path("accounts/security/", views.account_security, name="account-security"),
    path(
        "accounts/security/tokens/<uuid:public_id>/revoke/",
        views.token_revoke,
        name="account-token-revoke",
    ),
    path(
        "accounts/security/sessions/<uuid:public_id>/end/",
        views.session_end,
        name="account-session-end",
    ),
    path(
        "accounts/security/sessions/end-others/",
        views.sessions_end_others,
        name="account-sessions-end-others",
    ),
    path(
        "accounts/security/recovery-codes/",
        views.recovery_codes_new,
        name="account-recovery-codes",
    ),
    path("accounts/security/reset-mfa/", views.mfa_reset_page, name="account-mfa-reset"),
    path(
        "accounts/password/change/",
        views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path("accounts/password_reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("team/security/", views.organization_security, name="organization-security"),
    path("team/<uuid:public_id>/reset-mfa/", views.member_mfa_reset, name="team-member-mfa-reset"),
]
