"""[summary] in policy.toml: defaults, every key, strict errors with key paths and lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy_milter import policy
from privacy_milter.errors import PolicyError

ROOT = Path(__file__).resolve().parents[3]


def test_off_by_default_and_in_the_shipped_file():
    assert policy.default().summary.enabled is False
    shipped = policy.load(ROOT / "policy.toml").summary
    assert shipped.enabled is False and shipped.hour == 7 and shipped.timezone == "Europe/London"


def test_every_key():
    s = policy.parse('''
[summary]
recipients = ["postmaster@hosting.example"]
from = "pm@mx1.hosting.example"
weekday = "tuesday"
hour = 6
timezone = "America/New_York"
smtp_host = "::1"
smtp_port = 2525
top_n = 3
maillog = "/var/log/mail.log"
maillog_state = "/tmp/pos"
maillog_interval = 5
[summary.customers."Shop.Example"]
recipients = ["admin@shop.example"]
''').summary
    assert s.enabled and s.recipients == ("postmaster@hosting.example",)
    assert (s.from_address, s.weekday, s.hour, s.timezone) == ("pm@mx1.hosting.example", 1, 6, "America/New_York")
    assert (s.smtp_host, s.smtp_port, s.top_n) == ("::1", 2525, 3)
    assert (s.maillog, str(s.maillog_state), s.maillog_interval) == ("/var/log/mail.log", "/tmp/pos", 5.0)
    assert dict(s.customers) == {"shop.example": ("admin@shop.example",)}


def test_a_customer_recipient_alone_enables_it_and_enabled_false_wins():
    assert policy.parse('[summary.customers."a.example"]\nrecipients = ["x@a.example"]\n').summary.enabled
    assert not policy.parse('[summary]\nenabled = false\nrecipients = ["x@a.example"]\n').summary.enabled


def test_errors_name_key_path_and_line():
    with pytest.raises(PolicyError) as err:
        policy.parse('[summary]\nenabled = true\ntimezone = "Mars/Olympus"\nweekday = "funday"\n'
                     'hour = 24\nfrom = "nobody"\nmaillog = "mail.log"\ncolour = 1\n'
                     '[summary.customers."bad domain"]\nrecipients = ["<x@y.example>"]\n')
    text = str(err.value)
    for expected in ("policy.toml:2: summary.enabled: the summary is enabled but has no recipient",
                     "policy.toml:3: summary.timezone: is not a known IANA time zone",
                     "policy.toml:4: summary.weekday: must be one of",
                     "policy.toml:5: summary.hour: must be at most 23",
                     "policy.toml:6: summary.from: must be a mail address",
                     "policy.toml:7: summary.maillog: must be an absolute path",
                     "policy.toml:8: summary.colour: unknown setting",
                     'summary.customers."bad domain".recipients: item 1'):
        assert expected in text, text
