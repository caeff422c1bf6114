"""[smtp]: the server and TLS mode of the daemon's own mail, and the old [summary] keys."""

from __future__ import annotations

import pytest

from privacy_milter import policy
from privacy_milter.policy_sections import smtp_warnings
from privacy_milter.services import SmtpSender


def problems(text: str) -> list[str]:
    with pytest.raises(policy.PolicyError) as info:
        policy.parse(text, "p.toml")
    return info.value.problems


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.53"])
def test_loopback_defaults_to_opportunistic(host):
    s = policy.parse(f'[smtp]\nhost = "{host}"\n').smtp
    assert (s.tls, s.tls_defaulted) == ("opportunistic", True)
    assert smtp_warnings(s) == []


def test_a_smarthost_defaults_to_verify():
    s = policy.parse('[smtp]\nhost = "smarthost.example.net"\nport = 587\n').smtp
    assert (s.host, s.port, s.tls) == ("smarthost.example.net", 587, "verify")
    assert smtp_warnings(s) == []


def test_a_smarthost_without_verification_is_allowed_but_warned_about():
    s = policy.parse('[smtp]\nhost = "192.0.2.25"\ntls = "opportunistic"\n').smtp
    assert s.tls == "opportunistic" and not s.tls_defaulted
    (warning,) = smtp_warnings(s)
    assert '"192.0.2.25" is not this machine' in warning and 'tls = "verify"' in warning


def test_the_old_summary_keys_still_choose_the_server():
    p = policy.parse('[summary]\nsmtp_host = "::1"\nsmtp_port = 2525\n')
    assert (p.smtp.host, p.smtp.port, p.smtp.tls) == ("::1", 2525, "opportunistic")


def test_the_same_setting_in_both_places_is_a_problem_with_its_line():
    found = problems('[summary]\nsmtp_host = "127.0.0.1"\n\n[smtp]\nhost = "::1"\n')
    assert found == ["p.toml:5: smtp.host: is also set as [summary] smtp_host: keep only [smtp] host "
                     "([summary] smtp_host is its old place)"]


def test_bad_values_are_reported_with_their_lines(tmp_path):
    found = problems('[smtp]\nhost = "a b"\ntls = "maybe"\nca_file = "ca.pem"\nport = 0\nstarttls = true\n')
    assert any(f.startswith("p.toml:2: smtp.host: must be a host name or IP address") for f in found)
    assert "p.toml:3: smtp.tls: must be one of none, opportunistic, verify; got \"maybe\"" in found
    assert any(f.startswith("p.toml:4: smtp.ca_file: is used only with tls = \"verify\"") for f in found)
    assert "p.toml:5: smtp.port: must be at least 1; got 0" in found
    assert "p.toml:6: smtp.starttls: unknown setting" in found


def test_ca_file_must_exist_and_be_absolute(tmp_path):
    assert problems('[smtp]\ntls = "verify"\nca_file = "ca.pem"\n') == [
        "p.toml:3: smtp.ca_file: must be an absolute path such as /etc/ssl/certs/smarthost-ca.pem"]
    missing = tmp_path / "nope.pem"
    assert problems(f'[smtp]\ntls = "verify"\nca_file = "{missing}"\n') == [
        f"p.toml:3: smtp.ca_file: {missing} does not exist or is not a file"]
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = policy.parse(f'[smtp]\nhost = "relay.example.net"\nca_file = "{ca}"\n').smtp
    assert (s.tls, s.ca_file) == ("verify", str(ca))


def test_the_sender_is_built_from_the_settings():
    s = policy.parse('[smtp]\nhost = "relay.example.net"\nport = 587\ntimeout = 12\n').smtp
    sender = SmtpSender.from_settings(s, helo="mx1.shop.example")
    assert (sender.host, sender.port, sender.timeout, sender.helo, sender.tls) == (
        "relay.example.net", 587, 12.0, "mx1.shop.example", "verify")


def test_policy_check_warns_about_an_unverified_smarthost(tmp_path, capsys):
    from privacy_milter import cli

    path = tmp_path / "p.toml"
    path.write_text('[smtp]\nhost = "smarthost.example.net"\ntls = "none"\n')
    assert cli.main(["policy", "check", str(path)]) == 0
    err = capsys.readouterr().err
    assert f'{path}: warning: [smtp] host = "smarthost.example.net" is not this machine and tls = "none"' in err


def test_start_up_says_where_and_with_which_tls_the_summary_goes(caplog):
    from privacy_milter.summary.job import summary_jobs

    caplog.set_level("INFO", logger="privacy_milter.summary")
    p = policy.parse('[summary]\nrecipients = ["postmaster@hosting.example"]\n'
                     '[smtp]\nhost = "192.0.2.25"\ntls = "opportunistic"\n')
    (job,) = summary_jobs(p)
    assert job.name == "summary"
    assert "summary: sent weekly through 192.0.2.25:25, tls = opportunistic\n" in caplog.text + "\n"
    assert '[smtp] host = "192.0.2.25" is not this machine' in caplog.text
