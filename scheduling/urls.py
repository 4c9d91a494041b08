"""Pages of the sync engine."""

from django.urls import path

from scheduling import views

urlpatterns = [
    path("fill-queue/", views.fill_queue, name="fill-queue"),
]
