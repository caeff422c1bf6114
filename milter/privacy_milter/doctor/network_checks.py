"""The resolver the TLS decisions ask (and its AD bit with DANE), and the SMTP server the
weekly summary goes to, reached with the TLS setting the daemon will use (EHLO and
STARTTLS only: no mail is sent)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl

from ..hostname import HostNameError, resolve
from ..services import SmtpSender, SmtpSendError
from ..tlspolicy.health import resolver_warning
from .model import Finding, Setup, fail, ok, skip

RESOLVER, SMTP = "resolver", "summary smtp"
SMTP_TIMEOUT = 5.0   # a local Postfix or a smarthost answers EHLO in well under a second


def resolver(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(RESOLVER, "could not check: the policy does not parse")]
    tp = setup.policy.tls_policy
    if not tp.enabled:
        return [ok(RESOLVER, "not needed: [tls_policy] enabled = false")]
    config = tp.config
    if (said := asyncio.run(resolver_warning(config))) is not None:
        return [fail(RESOLVER, said, "apt install unbound (or [tls_policy] nameserver = a validating resolver)")]
    where = f"{config.nameserver or '(resolv.conf)'}:{config.nameserver_port}"
    return [ok(RESOLVER, f"{where} answers" + (" with DNSSEC validation (AD)" if config.dane_enabled else ""))]


def smtp(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(SMTP, "could not check: the policy does not parse")]
    if not setup.policy.summary.enabled:
        return [ok(SMTP, "not needed: no [summary] recipients")]
    s = setup.policy.smtp
    try:
        helo = resolve(setup.policy.store.host_name, setup.postfix_dir)
    except HostNameError:
        helo = "doctor.invalid"   # the host-name line says what is wrong with it
    sender = SmtpSender.from_settings(s, helo)
    where = f"{s.host}:{s.port}"
    try:
        how = _ehlo(sender, min(s.timeout, SMTP_TIMEOUT))
    except SmtpSendError as exc:
        return [fail(SMTP, f"[smtp] {exc}: the weekly summary cannot be sent",
                     f"check [smtp] host/port/tls; swaks --server {where} --quit-after EHLO --tls")]
    return [ok(SMTP, f"{where} answers EHLO; {how}")]


def _ehlo(sender: SmtpSender, timeout: float) -> str:
    """EHLO and STARTTLS exactly as SmtpSender does before it sends (its own TLS step),
    then QUIT: the summary's path without a message."""
    where = f"{sender.host}:{sender.port}"
    try:
        with smtplib.SMTP(sender.host, sender.port, local_hostname=sender.helo, timeout=timeout) as conn:
            code, _ = conn.ehlo()
            if code != 250:
                raise SmtpSendError(f"{where} answered EHLO with {code}")
            return sender._start_tls(conn, where)   # the sender's own TLS decision, not a copy
    except SmtpSendError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise SmtpSendError(f"{where}: its certificate could not be verified ({exc.verify_message}) and "
                            f"tls = \"{sender.tls}\"") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpSendError(f"cannot reach {where}: {type(exc).__name__}: {exc}") from None
