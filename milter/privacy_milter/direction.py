"""Inbound or outbound: decided once per message, with the reason, from what Postfix told us.

Outbound means one of ours sent it: an authenticated client, a client in a trusted
network, a submission service, or the local sendmail command (no client address).
Everything else is inbound. Filters ask the message for its direction; none guesses.
"""

from __future__ import annotations

from .model import Direction, DirectionDecision, Recipient, Session
from .policy import NetworkSettings


def decide(session: Session, recipients: list[Recipient], network: NetworkSettings) -> DirectionDecision:
    if session.authenticated:
        return DirectionDecision(Direction.OUTBOUND, "auth")
    if session.daemon_name and session.daemon_name in network.submission_daemons:
        return DirectionDecision(Direction.OUTBOUND, "submission")
    if not session.client_addr or session.daemon_port == "0":
        # Postfix's non_smtpd_milters path (sendmail command, pickup): Postfix presents it as
        # client 127.0.0.1 on daemon port 0.
        return DirectionDecision(Direction.OUTBOUND, "local")
    if network.is_trusted(session.client_addr):
        return DirectionDecision(Direction.OUTBOUND, "trusted-network")
    if any(network.is_hosted(r.domain) for r in recipients):
        return DirectionDecision(Direction.INBOUND, "hosted-recipient")
    return DirectionDecision(Direction.INBOUND, "external-client")
