"""Every write of the messaging app, one topic per file, re-exported here for callers.

- `automated`: automated texts the sync engine asks for (the contract with scheduling:
  `automated_message_request`, see that module's docstring);
- `consent`: consent, opt-out and opt-in of a number, numbers the carrier rejects;
- `conversations`: conversations and staff replies, assignment, closing;
- `inbound`: texts patients send (webhook intake, keyword routing);
- `delivery`: sending (claim, rate limit, send, retry) and the provider's status callbacks;
- `dispatcher`: waking the dispatcher task when a text is queued;
- `templates`: the organization's own wording of texts;
- `pharmacy_settings`: how a pharmacy sends through Twilio.

Reads (lookups included) live in `messaging.selectors`, pure rules in `messaging.rules`.
Files import one another one way only: dispatcher <- conversations <- automated <- consent
<- inbound, delivery.
"""

from messaging.services.automated import (
    automated_message_request,
    automated_message_requeue,
)
from messaging.services.consent import (
    phone_clear_invalid,
    phone_mark_invalid,
    phone_opt_in,
    phone_opt_out,
    sms_consent_grant,
    sms_consent_withdraw,
    sms_preferences_update,
)
from messaging.services.conversations import (
    MANUAL_MAX_CHARS,
    QUIET_HOLD,
    QUIET_SEND,
    QUIET_WARN,
    conversation_assign,
    conversation_close,
    conversation_get_or_create,
    conversation_mark_read,
    conversation_reopen,
    manual_message_send,
)
from messaging.services.delivery import (
    message_claim_next,
    message_gateway,
    message_mark_sent,
    message_outgoing,
    message_status_record,
    messages_dispatch_due,
)
from messaging.services.dispatcher import (
    DISPATCH_TASK,
    dispatcher_enqueue,
)
from messaging.services.inbound import inbound_message_receive, inbound_message_simulate
from messaging.services.pharmacy_settings import pharmacy_sms_config_save
from messaging.services.templates import template_reset, template_save

__all__ = [
    "DISPATCH_TASK",
    "MANUAL_MAX_CHARS",
    "QUIET_HOLD",
    "QUIET_SEND",
    "QUIET_WARN",
    "automated_message_request",
    "automated_message_requeue",
    "conversation_assign",
    "conversation_close",
    "conversation_get_or_create",
    "conversation_mark_read",
    "conversation_reopen",
    "dispatcher_enqueue",
    "inbound_message_receive",
    "inbound_message_simulate",
    "manual_message_send",
    "message_claim_next",
    "message_gateway",
    "message_mark_sent",
    "message_outgoing",
    "message_status_record",
    "messages_dispatch_due",
    "pharmacy_sms_config_save",
    "phone_clear_invalid",
    "phone_mark_invalid",
    "phone_opt_in",
    "phone_opt_out",
    "sms_consent_grant",
    "sms_consent_withdraw",
    "sms_preferences_update",
    "template_reset",
    "template_save",
]
