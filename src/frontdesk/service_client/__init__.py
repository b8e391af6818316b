"""Python client of the Frontdesk service API, for business back ends.

::

    async with ServiceClient("http://127.0.0.1:8080", client_id, client_secret) as svc:
        meeting = await svc.create_meeting(subject="Mortgage advice", organizer="alice")
        grant = await svc.create_guest_token(meeting.id, display_name="Ann Visitor")

Every failure is a :class:`FrontdeskError` (re-exported here from
:mod:`frontdesk.errors`, so back ends import it from this package). Webhook receivers check
deliveries with :func:`verify_webhook`.
"""

from __future__ import annotations

from frontdesk.errors import FrontdeskError
from frontdesk.protocol.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_webhook,
    verify_webhook,
)
from frontdesk.service_client._client import ServiceClient, discover, join_url_of_ics
from frontdesk.service_client._models import (
    Branding,
    CallbackRequest,
    Discovery,
    GuestToken,
    Meeting,
    Participant,
    QueueInfo,
    Visit,
    VisitGrant,
    Webhook,
)
from frontdesk.service_client._retry import RetryPolicy
from frontdesk.service_client._transcripts import (
    Transcript,
    TranscriptEntry,
    TranscriptMeeting,
    TranscriptPerson,
)

__all__ = [
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Branding",
    "CallbackRequest",
    "Discovery",
    "FrontdeskError",
    "GuestToken",
    "Meeting",
    "Participant",
    "QueueInfo",
    "RetryPolicy",
    "ServiceClient",
    "Transcript",
    "TranscriptEntry",
    "TranscriptMeeting",
    "TranscriptPerson",
    "Visit",
    "VisitGrant",
    "Webhook",
    "discover",
    "join_url_of_ics",
    "sign_webhook",
    "verify_webhook",
]
