"""Pages of the patients app."""

urlpatterns: list = []
