"""API routes of the patients app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from patients import api

router = SimpleRouter(trailing_slash=True)
router.register("patients", api.PatientViewSet, basename="api-patient")
router.register("prescriptions", api.PrescriptionViewSet, basename="api-prescription")
router.register("fills", api.FillViewSet, basename="api-fill")
router.register("prescribers", api.PrescriberViewSet, basename="api-prescriber")
router.register("coverages", api.CoverageViewSet, basename="api-coverage")
router.register("drugs", api.DrugViewSet, basename="api-drug")
router.register("imports", api.ImportViewSet, basename="api-import")

urlpatterns: list = [*router.urls]
