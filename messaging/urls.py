"""Pages of the messaging app, and the Twilio webhooks."""

from django.urls import path

from messaging import views, webhooks

urlpatterns = [
    path("inbox/", views.inbox, name="messaging-inbox"),
    path("inbox/<uuid:public_id>/", views.conversation_detail, name="messaging-conversation"),
    path("inbox/<uuid:public_id>/reply/", views.conversation_reply, name="messaging-reply"),
    path("inbox/<uuid:public_id>/assign/", views.conversation_assign, name="messaging-assign"),
    path("inbox/<uuid:public_id>/close/", views.conversation_close, name="messaging-close"),
    path(
        "inbox/<uuid:public_id>/simulate/",
        views.conversation_simulate,
        name="messaging-simulate",
    ),
    path("patients/<uuid:public_id>/texting/", views.patient_messaging, name="messaging-patient"),
    path(
        "patients/<uuid:public_id>/texting/consent/",
        views.patient_consent,
        name="messaging-patient-consent",
    ),
    path("texting/templates/", views.template_list, name="messaging-templates"),
    path(
        "texting/templates/<str:kind>/<str:language>/",
        views.template_edit,
        name="messaging-template-edit",
    ),
    path(
        "texting/templates/<str:kind>/<str:language>/preview/",
        views.template_preview,
        name="messaging-template-preview",
    ),
    path("webhooks/twilio/sms/", webhooks.inbound_sms, name="twilio-inbound-sms"),
    path("webhooks/twilio/status/", webhooks.status_callback, name="twilio-status-callback"),
]
