"""Postfix's live settings, read with `postconf` (main.cf) and `postconf -M/-P` (master.cf),
against what the milter needs: the milter listed (smtpd and sendmail mail), the macros it
reads, milter_default_action, the encrypt-only transport, the header check that routes
flagged mail to it (and its relayhost variant), and smtp_tls_policy_maps."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from privacy_filters import relayhost

from .. import postconf
from ..adapter import POSTFIX_MACRO_PARAMETERS
from .milter_checks import inet_address, unix_path
from .model import Finding, Setup, fail, ok, skip, warn

TIMEOUT = 3.0
MILTERS, MACROS, DEFAULT_ACTION = "postfix milters", "postfix macros", "postfix default action"
TRANSPORT, HEADER_CHECK, TLS_MAPS = "encrypt-only transport", "flagged-mail route", "postfix tls policy map"
TRANSPORT_NAME = "privacy-encrypt"
STRICT_LEVELS = ("encrypt", "dane-only", "verify", "secure", "fingerprint")
NAMES = ("smtpd_milters", "non_smtpd_milters", "milter_default_action", "milter_header_checks",
         "smtp_tls_policy_maps", "relayhost", "queue_directory", *POSTFIX_MACRO_PARAMETERS)
ALL = (MILTERS, MACROS, DEFAULT_ACTION, TRANSPORT, HEADER_CHECK, TLS_MAPS)


def check(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(name, "could not check: the policy does not parse") for name in ALL]
    main_cf = setup.postfix_main_cf()
    if not main_cf.exists():
        return [skip(name, f"could not check: no {main_cf} (is Postfix installed? another instance: "
                           "--postfix-config DIR)") for name in ALL]
    try:
        values = postconf.read(NAMES, setup.postfix_dir, TIMEOUT)
    except postconf.PostconfError as exc:
        return [skip(name, f"could not check: {exc}") for name in ALL]
    pc = _postconf_command(setup)
    return [_milters(setup, values, pc), _macros(values, pc), _default_action(values, pc),
            _transport(setup), _header_check(setup), _tls_maps(setup, values, pc)]


def _postconf_command(setup: Setup) -> str:
    return f"postconf -c {setup.postfix_dir}" if setup.postfix_dir else "postconf"


def _reload(pc: str) -> str:
    """`postfix reload` for the same instance as the postconf command `pc`."""
    return "postfix" + pc.removeprefix("postconf") + " reload"


def milter_entries(value: str) -> list[str]:
    """The socket of each milter in a smtpd_milters value ("{ spec, options }" groups included)."""
    out = []
    for item in re.findall(r"\{[^}]*\}|[^\s,{}]+", value):
        if item.startswith("{"):
            item = item.strip("{} \t").split(",")[0].strip()
        if item:
            out.append(item)
    return out


def same_socket(policy_spec: str, postfix_spec: str, queue_directory: str) -> bool:
    """Whether Postfix's milter entry names the policy's socket. Postfix resolves a relative
    unix path in its queue directory (where chrooted smtpd finds it); its inet form is
    inet:HOST:PORT where libmilter's is inet:PORT@HOST."""
    if (path := unix_path(policy_spec)) is not None:
        kind, _, rest = postfix_spec.partition(":")
        if kind not in ("unix", "local") or not rest:
            return False
        # an absolute path: as named (unchrooted) or inside the queue directory (chrooted smtpd)
        candidates = [Path(queue_directory) / rest.lstrip("/")] + ([Path(rest)] if rest.startswith("/") else [])
        return any(c.resolve() == path.resolve() for c in candidates)
    if (addr := inet_address(policy_spec)) is not None:
        kind, _, rest = postfix_spec.partition(":")
        host, _, port = rest.rpartition(":")
        local = {"127.0.0.1", "localhost"}
        hosts_match = host.strip("[]") == addr[0] or {host.strip("[]"), addr[0]} <= local
        return kind in ("inet", "inet6") and port == str(addr[1]) and hosts_match
    return False


def postfix_form(policy_spec: str, queue_directory: str) -> str:
    """How main.cf should name the policy's socket."""
    if (path := unix_path(policy_spec)) is not None:
        try:
            return f"unix:{path.relative_to(queue_directory)}"
        except ValueError:
            return f"unix:{path}"
    if (addr := inet_address(policy_spec)) is not None:
        return f"inet:{addr[0]}:{addr[1]}"
    return policy_spec


def _milters(setup: Setup, values: dict[str, str], pc: str) -> Finding:
    assert setup.policy is not None
    spec, queue = setup.policy.milter.socket, values["queue_directory"]
    want = postfix_form(spec, queue)
    missing, late = [], []
    for name in ("smtpd_milters", "non_smtpd_milters"):
        entries = milter_entries(values[name])
        at = [i for i, e in enumerate(entries) if same_socket(spec, e, queue)]
        if not at:
            missing.append(name)
        elif at[0] > 0:
            late.append(name)
    if missing:
        merged = {n: ", ".join(milter_entries(values[n]) + [want]) if values[n] else want for n in missing}
        fix = f"{pc} -e " + " ".join(f"'{n} = {v}'" for n, v in merged.items()) + " && " + _reload(pc)
        unchecked = "mail from SMTP clients" if "smtpd_milters" in missing else "mail sent with sendmail"
        return fail(MILTERS, f"{' and '.join(missing)} do not list {want} ([milter] socket {spec}): "
                             f"{unchecked} is never checked", fix)
    if late:
        return warn(MILTERS, f"{', '.join(late)} list another milter before {want}: it sees (and a signer "
                             "signs) the message before privacy-milter's edits (docs/DEPLOY.md, \"Next to other "
                             "milters\")", f"{pc} -e '... = {want}, <the others>'")
    return ok(MILTERS, f"smtpd_milters and non_smtpd_milters list {want}")


def _macros(values: dict[str, str], pc: str) -> Finding:
    lacking = {}
    for name, needed in POSTFIX_MACRO_PARAMETERS.items():
        have = set(values[name].split())
        if missing := [m for m in needed if m not in have]:
            lacking[name] = missing
    if not lacking:
        return ok(MACROS, "Postfix sends every macro the milter reads (" + ", ".join(POSTFIX_MACRO_PARAMETERS) + ")")
    text = "; ".join(f"{n} lacks {' '.join(m)}" for n, m in lacking.items())
    fix = f"{pc} -e " + " ".join(f"'{n} = {' '.join(values[n].split() + m)}'" for n, m in lacking.items())
    return fail(MACROS, f"{text}: Postfix sends only the macros listed, so the milter cannot see the "
                        "client, its TLS or the queue id (docs/DEPLOY.md)", fix + " && " + _reload(pc))


def _default_action(values: dict[str, str], pc: str) -> Finding:
    action = values["milter_default_action"]
    if action == "accept":
        return warn(DEFAULT_ACTION, "milter_default_action = accept: while the milter is down or stuck, mail "
                                    "passes unchecked (flagged mail in clear text included)",
                    f"{pc} -e milter_default_action=tempfail && {_reload(pc)}")
    return ok(DEFAULT_ACTION, f"milter_default_action = {action}")


def _master(setup: Setup, *args: str) -> str:
    program = shutil.which("postconf") or shutil.which("postconf", path="/usr/sbin:/sbin")
    if program is None:
        raise postconf.PostconfError("postconf was not found")
    command = [program] + (["-c", str(setup.postfix_dir)] if setup.postfix_dir else []) + list(args)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise postconf.PostconfError(f"postconf did not answer within {TIMEOUT:g}s") from None
    except OSError as exc:
        raise postconf.PostconfError(f"cannot run postconf: {exc.strerror}") from None
    return done.stdout


def _transport(setup: Setup) -> Finding:
    assert setup.policy is not None
    if "tls" not in setup.policy.filters:
        return ok(TRANSPORT, "not needed: tls is not in [pipeline] filters (flagged mail is not routed)")
    try:
        line = _master(setup, "-M", f"{TRANSPORT_NAME}/unix").split()
        level = _master(setup, "-P", f"{TRANSPORT_NAME}/unix/smtp_tls_security_level").partition("=")[2].strip()
    except postconf.PostconfError as exc:
        return skip(TRANSPORT, f"could not check: {exc}")
    pc = _postconf_command(setup)
    fix = f"add the privacy-encrypt service of deploy/postfix/master.cf to master.cf, then {_reload(pc)}"
    if not line:
        return fail(TRANSPORT, f"master.cf has no {TRANSPORT_NAME} unix service: flagged mail routed to it "
                               "stays deferred", fix)
    command = line[7] if len(line) > 7 else ""
    if command not in ("smtp", "lmtp"):
        return fail(TRANSPORT, f"master.cf's {TRANSPORT_NAME} runs {command or 'nothing'}, not smtp", fix)
    if level not in STRICT_LEVELS:
        return fail(TRANSPORT, f"master.cf's {TRANSPORT_NAME} has smtp_tls_security_level = "
                               f"{level or '(main.cf default)'}: flagged mail may leave in clear text",
                    f"{pc} -P '{TRANSPORT_NAME}/unix/smtp_tls_security_level=encrypt' && {_reload(pc)}")
    return ok(TRANSPORT, f"master.cf's {TRANSPORT_NAME} service sends only over TLS "
                         f"(smtp_tls_security_level = {level})")


def _header_check(setup: Setup) -> Finding:
    assert setup.policy is not None
    if "tls" not in setup.policy.filters:
        from ..registry import FILTERS

        tls_warnings = FILTERS["tls"].warnings  # the tls filter's declared policy warnings
        if tls_warnings is not None and (said := tls_warnings(setup.policy.site)):  # dlp without tls
            return warn(HEADER_CHECK, said[0], 'privacy-milter policy: [pipeline] filters = ["dlp", "tls", ...]')
        return ok(HEADER_CHECK, "not needed: tls is not in [pipeline] filters")
    setting = setup.settings("tls").relayhost
    read = functools.partial(postconf.read, config_dir=setup.postfix_dir, timeout=TIMEOUT)
    if warnings := relayhost.routing_warnings(setting, read):
        return fail(HEADER_CHECK, warnings[0], "see docs/DEPLOY.md (milter_header_checks)")
    return ok(HEADER_CHECK, "milter_header_checks sends X-Privacy-Encrypt mail to the encrypt-only transport"
                            " (through the relay when there is one)")


def _tls_maps(setup: Setup, values: dict[str, str], pc: str) -> Finding:
    assert setup.policy is not None
    if not setup.policy.tls_policy.enabled:
        return ok(TLS_MAPS, "not needed: [tls_policy] enabled = false")
    config = setup.policy.tls_policy.config
    spec = f"unix:{config.socket_path}"
    queue = values["queue_directory"]
    for entry in re.split(r"[\s,]+", values["smtp_tls_policy_maps"].strip()):
        kind, _, rest = entry.partition(":")
        sock, _, name = rest.rpartition(":")
        if kind == "socketmap" and same_socket(spec, sock, queue) and (not config.map_name or name == config.map_name):
            return ok(TLS_MAPS, f"smtp_tls_policy_maps asks the TLS policy service ({entry})")
    want = f"socketmap:{postfix_form(spec, queue)}:{config.map_name or 'tlspolicy'}"
    return fail(TLS_MAPS, f"smtp_tls_policy_maps does not ask the TLS policy service at {config.socket_path}: "
                          "DANE, MTA-STS and the pins are not applied to outbound mail",
                f"{pc} -e 'smtp_tls_policy_maps = {want}' && {_reload(pc)}")
