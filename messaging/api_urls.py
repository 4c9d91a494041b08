"""API routes of the messaging app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from messaging.api import ConversationViewSet, MessageViewSet, TemplateViewSet

router = SimpleRouter(trailing_slash=True)
router.register("messages", MessageViewSet, basename="message")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("message-templates", TemplateViewSet, basename="message-template")

urlpatterns: list = [*router.urls]
