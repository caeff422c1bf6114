"""The SMTP sender against a real aiosmtpd server on loopback."""

from email.message import EmailMessage

import pytest

from privacy_milter.services import SmtpSender, SmtpSendError
from tests.harness.ports import free_port
from tests.harness.sink import Sink


def _mail():
    m = EmailMessage()
    m["From"] = "privacy-milter@mx.example"
    m["To"] = "admins@hosting.example"
    m["Subject"] = "Mail privacy summary"
    m.set_content("All well.\n")
    return m


async def test_sender_delivers_the_exact_message():
    with Sink() as sink:
        await SmtpSender("127.0.0.1", sink.port, timeout=5).send(
            _mail(), "privacy-milter@mx.example", ["admins@hosting.example"])
        got = sink.wait_for(1, 5)[0]
    assert got.mail_from == "privacy-milter@mx.example" and got.rcpt_tos == ("admins@hosting.example",)
    assert b"Subject: Mail privacy summary" in got.raw and b"All well." in got.raw


async def test_sender_says_why_without_addresses_when_nobody_listens():
    port = free_port()
    with pytest.raises(SmtpSendError) as err:
        await SmtpSender("127.0.0.1", port, timeout=2).send(_mail(), "a@mx.example", ["b@hosting.example"])
    assert f"127.0.0.1:{port}" in str(err.value) and "@" not in str(err.value)


# --- [smtp] tls: none / opportunistic / verify, against a server with a self-signed certificate

@pytest.fixture(scope="module")
def snakeoil(tmp_path_factory):
    from tests.harness.snakeoil import make_snakeoil

    return make_snakeoil(tmp_path_factory.mktemp("snakeoil"), "localhost")


def _tls_sink(snakeoil, **kw):
    return Sink(tls_cert=str(snakeoil.cert_file), tls_key=str(snakeoil.key_file), **kw)


async def test_opportunistic_delivers_over_starttls_to_a_self_signed_certificate(snakeoil, caplog):
    caplog.set_level("INFO", logger="privacy_milter.smtp")
    with _tls_sink(snakeoil) as sink:
        how = await SmtpSender("127.0.0.1", sink.port, timeout=5, tls="opportunistic").send(
            _mail(), "privacy-milter@mx.example", ["admins@hosting.example"])
        (got,) = sink.wait_for(1, 5)
    assert got.tls and got.tls_version and b"All well." in got.raw
    assert how == f"STARTTLS {got.tls_version}, certificate not verified (tls = opportunistic)"
    assert how in caplog.text and f"127.0.0.1:{sink.port}" in caplog.text


async def test_verify_refuses_a_self_signed_certificate_and_says_what_to_do(snakeoil):
    with _tls_sink(snakeoil) as sink:
        with pytest.raises(SmtpSendError) as err:
            await SmtpSender("localhost", sink.port, timeout=5, tls="verify").send(
                _mail(), "a@mx.example", ["b@hosting.example"])
        assert sink.count() == 0
    text = str(err.value)
    assert "certificate could not be verified" in text and "self-signed" in text
    assert "ca_file" in text and "opportunistic" in text and "@" not in text


async def test_verify_with_the_certificate_as_ca_file_delivers(snakeoil):
    with _tls_sink(snakeoil) as sink:
        how = await SmtpSender("localhost", sink.port, timeout=5, tls="verify",
                               ca_file=str(snakeoil.cert_file)).send(_mail(), "a@mx.example", ["b@hosting.example"])
        (got,) = sink.wait_for(1, 5)
    assert got.tls and how.endswith("certificate verified (tls = verify)")


async def test_verify_refuses_a_server_without_starttls():
    with Sink() as sink:
        with pytest.raises(SmtpSendError, match='does not offer STARTTLS, and \\[smtp\\] tls = "verify"'):
            await SmtpSender("127.0.0.1", sink.port, timeout=5, tls="verify").send(
                _mail(), "a@mx.example", ["b@hosting.example"])
        assert sink.count() == 0


async def test_none_never_starts_tls(snakeoil):
    with _tls_sink(snakeoil) as sink:
        how = await SmtpSender("127.0.0.1", sink.port, timeout=5, tls="none").send(
            _mail(), "a@mx.example", ["b@hosting.example"])
        (got,) = sink.wait_for(1, 5)
    assert not got.tls and how == "no TLS (tls = none)"


def test_an_unknown_tls_mode_is_refused():
    with pytest.raises(ValueError, match="tls must be one of"):
        SmtpSender(tls="maybe")
