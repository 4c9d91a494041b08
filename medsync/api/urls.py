from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from medsync.api.views import MeView, PharmacyViewSet, TokenView

router = SimpleRouter(trailing_slash=True)
router.register("pharmacies", PharmacyViewSet, basename="api-pharmacy")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("me/", MeView.as_view(), name="api-me"),
    # Both need a signed-in person or a token (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]); the
    # Swagger UI sends a browser without a session to the login page and back.
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("", include(router.urls)),
]
