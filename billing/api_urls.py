"""API routes of the billing app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from billing import api, service_claim_api

router = SimpleRouter(trailing_slash=True)
router.register("claims", api.ClaimViewSet, basename="api-claim")
router.register("services", service_claim_api.ServiceViewSet, basename="clinical-service")
router.register("service-claim-lines", service_claim_api.ClaimLineViewSet, basename="claim-line")
router.register("service-claim-exports", service_claim_api.ExportViewSet, basename="claim-export")

urlpatterns: list = [*router.urls]
