"""Inbound or outbound: decided once per message, with the reason, from what Postfix told us.

Outbound means one of ours sent it: an authenticated client, a client in a trusted
network, a submission service, or the local sendmail command (no client address).
Everything else is inbound. Filters ask the message for its direction; none guesses.
"""

from __future__ import annotations

from .model import Direction, DirectionDecision, Recipient, Session
from .policy import NetworkSettings


# The six answers, made once (they are immutable): a message takes one, not a new object.
AUTH = DirectionDecision(Direction.OUTBOUND, "auth")
SUBMISSION = DirectionDecision(Direction.OUTBOUND, "submission")
LOCAL = DirectionDecision(Direction.OUTBOUND, "local")
TRUSTED_NETWORK = DirectionDecision(Direction.OUTBOUND, "trusted-network")
HOSTED_RECIPIENT = DirectionDecision(Direction.INBOUND, "hosted-recipient")
EXTERNAL_CLIENT = DirectionDecision(Direction.INBOUND, "external-client")


def decide(session: Session, recipients: list[Recipient], network: NetworkSettings) -> DirectionDecision:
    if session.authenticated:
        return AUTH
    if session.daemon_name and session.daemon_name in network.submission_daemons:
        return SUBMISSION
    if not session.client_addr or session.daemon_port == "0":
        # Postfix's non_smtpd_milters path (sendmail command, pickup): Postfix presents it as
        # client 127.0.0.1 on daemon port 0.
        return LOCAL
    if network.is_trusted(session.client_addr):
        return TRUSTED_NETWORK
    if any(network.is_hosted(r.domain) for r in recipients):
        return HOSTED_RECIPIENT
    return EXTERNAL_CLIENT
