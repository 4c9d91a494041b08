"""Pages of the billing app."""

urlpatterns: list = []
