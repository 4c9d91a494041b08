"""Pages of the messaging app."""

urlpatterns: list = []
