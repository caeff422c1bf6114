"""The real dnspython TXT resolver (services.DnsTxt) and `privacy-milter dkim keygen|check`
against the DNS stub on loopback."""

from __future__ import annotations

import pytest

from privacy_filters.dkim.keys import dns_record, load_key
from privacy_milter.cli import main
from privacy_milter.services import DnsNameError, DnsTemporaryError, DnsTxt
from tests.harness.dnsstub import DnsStub

DOMAIN = "example.co.uk"


def txt_value(record: str) -> str:
    """A long record as TXT character-strings of at most 250 characters."""
    return " ".join(f'"{record[i:i + 250]}"' for i in range(0, len(record), 250))


async def test_txt_records_joined_and_failures_told_apart():
    with DnsStub() as stub:
        long = "v=DKIM1; k=rsa; p=" + "A" * 600
        stub.add("s1._domainkey.example.test", "TXT", txt_value(long))
        stub.add("other.example.test", "A", "192.0.2.1")
        stub.add("bad.example.test", "TXT", '"x"')
        stub.servfail("bad.example.test")
        stub.add("slow.example.test", "TXT", '"x"')
        stub.drop("slow.example.test")
        txt = DnsTxt("127.0.0.1", stub.port, timeout=0.5)
        assert await txt("s1._domainkey.example.test") == [long.encode()]
        assert await txt("other.example.test") == []          # NODATA
        with pytest.raises(DnsNameError):
            await txt("missing.example.test")
        with pytest.raises(DnsTemporaryError):
            await txt("bad.example.test")
        with pytest.raises(DnsTemporaryError):
            await txt("slow.example.test")


def test_keygen_then_check_matching_and_mismatching(tmp_path, capsys):
    keys = tmp_path / "keys"
    keys.mkdir()
    assert main(["dkim", "keygen", DOMAIN, "r1", "--dir", str(keys)]) == 0
    assert main(["dkim", "keygen", DOMAIN, "e1", "--algorithm", "ed25519", "--dir", str(keys)]) == 0
    printed = capsys.readouterr().out
    assert "r1._domainkey.example.co.uk. IN TXT" in printed and "e1._domainkey" in printed
    rsa = load_key(keys / f"{DOMAIN}.r1.key", "rsa-sha256", "r1")
    ed = load_key(keys / f"{DOMAIN}.e1.key", "ed25519-sha256", "e1")
    with DnsStub() as stub:
        policy = tmp_path / "policy.toml"
        policy.write_text(f'''
[network]
hosted_domains = ["{DOMAIN}"]
[filters.dkim]
nameserver = "127.0.0.1:{stub.port}"
dns_timeout = 1
[filters.dkim.keys."{DOMAIN}"]
"r1" = {{ key_file = "{rsa.key_file}", algorithm = "rsa-sha256" }}
"e1" = {{ key_file = "{ed.key_file}", algorithm = "ed25519-sha256", active = false }}
''')
        stub.add(f"r1._domainkey.{DOMAIN}", "TXT", txt_value(dns_record(rsa)))
        assert main(["dkim", "check", "--policy", str(policy), DOMAIN]) == 1   # e1 not published
        out = capsys.readouterr().out
        assert f"ok        {DOMAIN} selector r1" in out and f"MISSING   {DOMAIN} selector e1" in out
        stub.add(f"e1._domainkey.{DOMAIN}", "TXT", txt_value(dns_record(rsa)))   # the wrong key
        assert main(["dkim", "check", "--policy", str(policy)]) == 1
        assert f"MISMATCH  {DOMAIN} selector e1" in capsys.readouterr().out
        stub.remove(f"e1._domainkey.{DOMAIN}")
        stub.add(f"e1._domainkey.{DOMAIN}", "TXT", txt_value(dns_record(ed)))
        assert main(["dkim", "check", "--policy", str(policy), DOMAIN]) == 0
        assert capsys.readouterr().out.count("ok ") == 2


def test_run_refuses_a_key_file_others_can_read(tmp_path, capsys):
    keys = tmp_path / "keys"
    keys.mkdir()
    assert main(["dkim", "keygen", DOMAIN, "r1", "--dir", str(keys)]) == 0
    key = keys / f"{DOMAIN}.r1.key"
    key.chmod(0o644)
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[filters.dkim.keys."{DOMAIN}"]\n'
                      f'"r1" = {{ key_file = "{key}", algorithm = "rsa-sha256" }}\n')
    capsys.readouterr()
    assert main(["run", "--policy", str(policy), "--socket", f"unix:{tmp_path}/m.sock"]) == 78
    err = capsys.readouterr().err
    assert f"key file {key} is readable or writable by group or others (mode 0644)" in err
    assert f"chmod 600 {key}" in err and "filters.dkim.keys" in err
