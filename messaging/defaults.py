"""The built-in wording of every text, in English and Spanish.

An organization may replace any of them (MessageTemplate); these apply otherwise and
pass the same validation (tests/messaging/test_templates.py proves it).
"""

from __future__ import annotations

from messaging.models import MessageKind

DEFAULT_TEMPLATES: dict[tuple[str, str], str] = {
    (MessageKind.PREP_REMINDER, "en"): (
        "{pharmacy_name}: {first_name}, refills are due {anchor_date}. Reply C if nothing "
        "changed, X if something did, or call {pharmacy_phone}. STOP to end"
    ),
    (MessageKind.PREP_REMINDER, "es"): (
        "{pharmacy_name}: {first_name}, sus recetas: {anchor_date}. Responda C si nada "
        "cambio, X si hubo cambios, o llame {pharmacy_phone}. STOP=salir"
    ),
    (MessageKind.READY_FOR_PICKUP, "en"): (
        "{pharmacy_name}: {first_name}, your refills are ready for pickup. Questions? "
        "Call {pharmacy_phone}. Reply STOP to opt out"
    ),
    (MessageKind.READY_FOR_PICKUP, "es"): (
        "{pharmacy_name}: {first_name}, sus recetas estan listas para recoger. Preguntas? "
        "Llame {pharmacy_phone}. STOP para salir"
    ),
    (MessageKind.MISSED_PICKUP, "en"): (
        "{pharmacy_name}: {first_name}, your refills are still waiting for you. Please "
        "pick up or call {pharmacy_phone}. Reply STOP to opt out"
    ),
    (MessageKind.MISSED_PICKUP, "es"): (
        "{pharmacy_name}: {first_name}, sus recetas le esperan. Recojalas o llame "
        "{pharmacy_phone}. STOP para salir"
    ),
    (MessageKind.RTS_WARNING, "en"): (
        "{pharmacy_name}: {first_name}, please pick up your refills by {pickup_by} or they "
        "go back to stock. Call {pharmacy_phone}. STOP to opt out"
    ),
    (MessageKind.RTS_WARNING, "es"): (
        "{pharmacy_name}: {first_name}, recoja sus recetas antes del {pickup_by} o "
        "volveran al inventario. Llame {pharmacy_phone}. STOP para salir"
    ),
    (MessageKind.APPOINTMENT_REMINDER, "en"): (
        "{pharmacy_name}: {first_name}, your appointment is {appointment_time}. Call "
        "{pharmacy_phone} to change. STOP to end"
    ),
    (MessageKind.APPOINTMENT_REMINDER, "es"): (
        "{pharmacy_name}: {first_name}, su cita es el {appointment_time}. Para cambiarla "
        "llame {pharmacy_phone}. STOP=salir"
    ),
    (MessageKind.AGREEMENT_LINK, "en"): (
        "{pharmacy_name}: {first_name}, please review and sign: {link} STOP to end"
    ),
    (MessageKind.AGREEMENT_LINK, "es"): (
        "{pharmacy_name}: {first_name}, revise y firme aqui: {link} STOP=salir"
    ),
    (MessageKind.HELP_REPLY, "en"): (
        "{pharmacy_name}: refill reminders, up to 3 msgs/week. Msg & data rates may apply. "
        "Call {pharmacy_phone}. Reply STOP to opt out, START to resume."
    ),
    (MessageKind.HELP_REPLY, "es"): (
        "{pharmacy_name}: avisos de recetas, hasta 3 msjs/semana. Pueden aplicar tarifas. "
        "Llame {pharmacy_phone}. STOP para salir, START para volver."
    ),
    (MessageKind.OPT_OUT_CONFIRMATION, "en"): (
        "{pharmacy_name}: you are unsubscribed and will get no more texts. Reply START to "
        "resubscribe or call {pharmacy_phone}."
    ),
    (MessageKind.OPT_OUT_CONFIRMATION, "es"): (
        "{pharmacy_name}: no recibira mas mensajes. Responda START para volver o llame "
        "{pharmacy_phone}."
    ),
    (MessageKind.OPT_IN_CONFIRMATION, "en"): (
        "{pharmacy_name}: you are subscribed to refill reminders, up to 3 msgs/week. Msg & "
        "data rates may apply. Reply HELP for help, STOP to opt out."
    ),
    (MessageKind.OPT_IN_CONFIRMATION, "es"): (
        "{pharmacy_name}: recibira avisos de recetas, hasta 3 msjs/semana. Pueden aplicar "
        "tarifas. HELP para ayuda, STOP para salir."
    ),
    (MessageKind.CONFIRM_ACK, "en"): (
        "{pharmacy_name}: thanks, {first_name}. We will have your refills ready."
    ),
    (MessageKind.CONFIRM_ACK, "es"): (
        "{pharmacy_name}: gracias, {first_name}. Tendremos sus recetas listas."
    ),
    (MessageKind.CHANGE_ACK, "en"): (
        "{pharmacy_name}: thanks, {first_name}. A pharmacist will call you about the "
        "changes. Questions: {pharmacy_phone}"
    ),
    (MessageKind.CHANGE_ACK, "es"): (
        "{pharmacy_name}: gracias, {first_name}. Un farmaceutico le llamara sobre los "
        "cambios. Preguntas: {pharmacy_phone}"
    ),
}

TEMPLATE_KINDS = [
    MessageKind.PREP_REMINDER,
    MessageKind.READY_FOR_PICKUP,
    MessageKind.MISSED_PICKUP,
    MessageKind.RTS_WARNING,
    MessageKind.APPOINTMENT_REMINDER,
    MessageKind.AGREEMENT_LINK,
    MessageKind.HELP_REPLY,
    MessageKind.OPT_OUT_CONFIRMATION,
    MessageKind.OPT_IN_CONFIRMATION,
    MessageKind.CONFIRM_ACK,
    MessageKind.CHANGE_ACK,
]
