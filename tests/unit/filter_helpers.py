"""What the filter tests share: a policy, a message builder, and building a filter from
the policy's settings as the registry does."""



from privacy_milter import policy as policy_mod
from privacy_milter.model import (Direction, DirectionDecision, Message,
                                  Recipient, Session, TlsInfo)


POLICY = policy_mod.parse("""
[network]
hosted_domains = ["shop.example"]
[filters.tls]
require_tls_for_auth = true
require_tls_from_domains = ["partner.example"]
require_tls_from_networks = ["198.51.100.0/24"]
[customers."strict.example".dlp_actions]
iban = { high = "reject" }
""")


def check_with(cls, message, ctx, **kwargs):
    """Build the filter from the context's policy, as the registry does, and run its check."""
    return cls(ctx.site.settings(cls.name), **kwargs).check(message, ctx)


def message(direction=Direction.OUTBOUND, sender="alice@shop.example", rcpts=(("bob@far.example", "smtp"),),
            tls=None, auth=None, client="192.0.2.1"):
    m = Message(Session("c", client_addr=client, auth_authen=auth, tls=TlsInfo(*(tls or (None, None)))),
                mail_from=sender, recipients=[Recipient(a, mailer) for a, mailer in rcpts])
    m.direction = DirectionDecision(direction, "test")
    return m
