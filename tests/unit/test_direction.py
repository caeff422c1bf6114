import pytest

from privacy_milter import policy
from privacy_milter.direction import decide
from privacy_milter.model import Direction, Recipient, Session

NET = policy.parse('[network]\nhosted_domains = ["hosted.example"]\ntrusted_networks = ["192.0.2.0/24"]').network


@pytest.mark.parametrize("session, rcpts, expected", [
    (Session("c", client_addr="203.0.113.5", auth_authen="alice"), ["x@else.example"], (Direction.OUTBOUND, "auth")),
    (Session("c", client_addr="203.0.113.5", daemon_name="ORIGINATING"), ["x@else.example"],
     (Direction.OUTBOUND, "submission")),
    (Session("c", client_addr=None), ["x@else.example"], (Direction.OUTBOUND, "local")),
    (Session("c", client_addr="127.0.0.1", daemon_port="0"), ["x@hosted.example"], (Direction.OUTBOUND, "local")),
    (Session("c", client_addr="192.0.2.9"), ["x@else.example"], (Direction.OUTBOUND, "trusted-network")),
    (Session("c", client_addr="203.0.113.5"), ["bob@hosted.example"], (Direction.INBOUND, "hosted-recipient")),
    (Session("c", client_addr="203.0.113.5"), ["bob@sub.hosted.example"], (Direction.INBOUND, "hosted-recipient")),
    (Session("c", client_addr="203.0.113.5"), ["x@else.example"], (Direction.INBOUND, "external-client")),
    (Session("c", client_addr="IPv6:2001:db8::1", daemon_name="smtpd"), ["bob@hosted.example"],
     (Direction.INBOUND, "hosted-recipient")),
])
def test_direction(session, rcpts, expected):
    d = decide(session, [Recipient(r) for r in rcpts], NET)
    assert (d.direction, d.reason) == expected
