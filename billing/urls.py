"""Pages of the billing app."""

from django.urls import path

from billing import views

urlpatterns: list = [
    path("claims/", views.claim_list, name="claim-list"),
    path("claims/<uuid:public_id>/", views.claim_detail, name="claim-detail"),
    path(
        "claims/<uuid:public_id>/resubmit/",
        views.claim_work,
        {"action": "resubmit"},
        name="claim-resubmit",
    ),
    path(
        "claims/<uuid:public_id>/rebill/",
        views.claim_work,
        {"action": "rebill"},
        name="claim-rebill",
    ),
    path(
        "claims/<uuid:public_id>/reverse/",
        views.claim_work,
        {"action": "reverse"},
        name="claim-reverse",
    ),
]
