"""API routes of the billing app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from billing import api

router = SimpleRouter(trailing_slash=True)
router.register("claims", api.ClaimViewSet, basename="api-claim")

urlpatterns: list = [*router.urls]
