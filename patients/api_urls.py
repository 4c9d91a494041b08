"""API routes of the patients app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from patients import api

router = SimpleRouter(trailing_slash=True)
router.register("patients", api.PatientViewSet, basename="patient")
router.register("prescriptions", api.PrescriptionViewSet, basename="prescription")
router.register("fills", api.FillViewSet, basename="fill")
router.register("prescribers", api.PrescriberViewSet, basename="prescriber")
router.register("coverages", api.CoverageViewSet, basename="coverage")
router.register("drugs", api.DrugViewSet, basename="drug")
router.register("imports", api.ImportViewSet, basename="import")

urlpatterns: list = [*router.urls]
