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


# --- issue 25: the direction is a required value, read one way ------------------------------

def test_an_undecided_direction_is_refused_not_guessed():
    """Before issue 25 a filter read None four ways (outbound for dlp, not outbound for dkim,
    neither for tls, both for the scanners). Now reading it before it is decided raises."""
    from privacy_milter.model import DirectionUndecided, Message

    m = Message(Session("c"))
    for read in (lambda: m.direction, lambda: m.outbound, lambda: m.inbound):
        with pytest.raises(DirectionUndecided):
            read()
    m.direction = decide(Session("c", auth_authen="alice"), [], NET)
    assert (m.outbound, m.inbound) == (True, False)


def test_every_filter_refuses_an_undecided_message():
    """No filter guesses: each one's answer for a message nobody decided is an error (the
    pipeline turns it into on_error), never a silent direction."""
    from privacy_filters.dkim_filter import DkimFilter
    from privacy_filters.dlp_filter import DlpFilter
    from privacy_filters.optin_scanner import opted_in
    from privacy_filters.tls import TlsFilter
    from privacy_milter import policy as policy_mod
    from privacy_milter.model import DirectionUndecided, Message

    policy = policy_mod.default()
    m = Message(Session("c", client_addr="192.0.2.1"), mail_from="a@shop.example")
    for f in (DlpFilter(), TlsFilter(), DkimFilter()):
        with pytest.raises(DirectionUndecided):
            f.decide(m, _ctx(policy))
    with pytest.raises(DirectionUndecided):
        opted_in(m, policy, "virus")


def _ctx(policy):
    from privacy_milter.plugin import FilterContext
    return FilterContext(policy.site)
