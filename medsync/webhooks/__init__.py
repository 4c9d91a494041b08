"""Webhooks: signed events out to a pharmacy's own systems, signed pushes in from them.

`emit(organization, event, payload)` is the one call other apps make (README "Webhooks").
"""

from medsync.webhooks.inbound import register_inbound_handler
from medsync.webhooks.services import emit

__all__ = ["emit", "register_inbound_handler"]
