"""API routes of the scheduling app, mounted under /api/v1/.

The patients app owns /api/v1/patients/; the sync engine adds two sub-routes with
explicit paths so the two routers never compete."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from scheduling import api, api_appointments, api_plans, api_settings

router = SimpleRouter(trailing_slash=True)
router.register("enrollments", api.EnrollmentViewSet, basename="sync-enrollment")
router.register("cycles", api.CycleViewSet, basename="sync-cycle")
router.register("appointments", api_appointments.AppointmentViewSet, basename="appointment")
router.register("service-offers", api_appointments.ServiceOfferViewSet, basename="service-offer")

urlpatterns: list = [
    path(
        "patients/<uuid:id>/anchor-options/",
        api_plans.AnchorOptionsView.as_view(),
        name="api-patient-anchor-options",
    ),
    path(
        "patients/<uuid:id>/sync-plan/",
        api_plans.SyncPlanView.as_view(),
        name="api-patient-sync-plan",
    ),
    path(
        "pharmacies/<uuid:id>/sync-settings/",
        api_settings.PharmacySyncSettingsView.as_view(),
        name="api-pharmacy-sync-settings",
    ),
    *router.urls,
]
