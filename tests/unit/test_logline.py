"""The one log line per message, byte for byte: what admins and their scripts read."""

from privacy_milter.logline import message_line
from privacy_milter.model import (Action, Confidence, Direction, DirectionDecision, Finding, Message, Recipient,
                                  Result, Session, TlsInfo, Verdict)


def _message(**session: object) -> Message:
    m = Message(Session("c1", **session), mail_from="alice@Shop.Example",  # type: ignore[arg-type]
                recipients=[Recipient("b@two.example"), Recipient("a@one.example"), Recipient("c@two.example")],
                queue_id="4F3A2B1C")
    m.write_body(b"x" * 1234)
    return m


def test_a_plain_accepted_message():
    m = _message(client_addr="192.0.2.1")
    m.direction = DirectionDecision(Direction.INBOUND, "hosted-recipient")
    line = message_line(m, Verdict(Action.ACCEPT, (Result("dlp", facts=(("dlp", "skipped-inbound"),)),)))
    assert line == ("4F3A2B1C: direction=inbound reason=hosted-recipient client=192.0.2.1 from_domain=shop.example "
                    "rcpt_domains=one.example,two.example nrcpt=3 body_size=1234 tls=none action=accept findings=none")


def test_every_optional_field_in_its_place():
    m = _message(auth_authen="alice", tls=TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256))
    m.direction = DirectionDecision(Direction.OUTBOUND, "auth")
    dlp = Result("dlp", Action.REJECT, findings=(
        Finding("payment_card", Confidence.HIGH, 2, rules=("card.luhn", "card.context")),
        Finding("iban", Confidence.MEDIUM, 1, rules=("iban.checksum", "card.luhn"))),
        facts=(("dlp", "scanned"), ("unscannable_reasons", "encrypted,time")))
    spam = Result("spam", Action.TEMPFAIL, error="timed out after 5s")
    virus = Result("virus", error="failed: OSError")
    line = message_line(m, Verdict(Action.REJECT, (dlp, spam, virus)))
    assert line == ("4F3A2B1C: direction=outbound reason=auth client=local from_domain=shop.example "
                    "rcpt_domains=one.example,two.example nrcpt=3 body_size=1234 tls=TLSv1.3 "
                    "cipher=TLS_AES_256_GCM_SHA384 action=reject findings=payment_card:2:high,iban:1:medium "
                    "rules=card.context,card.luhn,iban.checksum unscannable=encrypted,time failed=spam,virus")


def test_no_queue_id_no_direction_null_sender_no_recipients():
    m = Message(Session("c7"))
    assert message_line(m, Verdict(Action.TEMPFAIL, ())) == (
        "NOQUEUE: direction=unknown reason=unknown client=local from_domain=<> rcpt_domains=- nrcpt=0 body_size=0 "
        "tls=none action=tempfail findings=none")
