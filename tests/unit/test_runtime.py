"""Runtime: one message end to end without Postfix, policy reload, retention."""

import logging
import time

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.model import Action, Message, Recipient, Session, TlsInfo
from privacy_milter.policy import Overrides
from privacy_milter.runtime import Runtime

BASE = """
[store]
path = "{dir}/meta.db"
key_file = "{dir}/address.key"
flush_interval = 0.05
[network]
hosted_domains = ["hosted.example"]
[tls_policy]
enabled = false
"""


@pytest.fixture
async def runtime(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path))
    rt = await Runtime.start(policy_mod.load(path), policy_path=path, watch=False)
    yield rt
    await rt.stop()


def message(body=b"Hello Bob,\r\nsee you at 3.\r\n", sender="alice@shop.example", client="192.0.2.1",
            auth=None, tls=None):
    m = Message(Session("c1", client_addr=client, auth_authen=auth, tls=TlsInfo(*(tls or (None, None)))),
                mail_from=sender, recipients=[Recipient("bob@hosted.example")], queue_id="4TEST")
    m.headers = [("From", sender), ("To", "bob@hosted.example"), ("Subject", "lunch")]
    m.write_body(body)
    return m


async def test_inbound_message_is_recorded_and_logged(runtime, caplog):
    caplog.set_level(logging.INFO, "privacy_milter")
    verdict = await runtime.process(message(tls=("TLSv1.3", "TLS_AES_256_GCM_SHA384")))
    assert verdict.action is Action.ACCEPT
    stats = await runtime.store.stats()
    assert stats["messages"] == 1 and stats["direction"] == {"inbound": 1}
    assert stats["tls_version"] == {"TLSv1.3": 1}
    line = next(r.getMessage() for r in caplog.records if "4TEST:" in r.getMessage())
    assert "direction=inbound reason=hosted-recipient" in line and "tls=TLSv1.3" in line
    assert "alice@" not in line and "bob@" not in line


async def test_outbound_card_number_is_rejected_without_leaking(runtime, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "4539 1488 0343 6467"
    verdict = await runtime.process(message(body=f"My card number is {secret}, expiry 09/27\r\n".encode(),
                                            auth="alice"))
    assert verdict.action is Action.REJECT
    assert verdict.reply is not None and verdict.reply.xcode == "5.7.1"
    assert "payment card" in verdict.reply.text and secret not in verdict.reply.text
    assert secret not in caplog.text and secret.replace(" ", "") not in caplog.text
    raw = runtime.store.path.read_bytes() + (runtime.store.path.parent / "meta.db-wal").read_bytes()
    assert secret.encode() not in raw and secret.replace(" ", "").encode() not in raw


async def test_invalid_reload_keeps_the_running_policy(runtime, caplog):
    path = runtime.policy_path
    path.write_text(path.read_text() + "\n[filters.dlp]\nscan_inbound = true\n")
    assert runtime.reload("test") is True
    assert runtime.policy.settings("dlp").scan_inbound is True
    path.write_text(path.read_text() + "\n[nonsense]\n")
    assert runtime.reload("test") is False
    assert runtime.policy.settings("dlp").scan_inbound is True
    assert "refused" in caplog.text and "nonsense: unknown setting" in caplog.text


async def test_store_change_needs_restart(runtime, caplog):
    before = runtime.policy.store
    path = runtime.policy_path
    path.write_text(path.read_text().replace("flush_interval = 0.05", "flush_interval = 0.5"))
    assert runtime.reload("test")
    assert runtime.policy.store == before
    assert "next restart" in caplog.text


async def test_overrides_survive_reload(tmp_path, caplog):
    """--socket and --store given on the command line win over the file after every reload:
    the reloaded policy carries them, so a file that now names another socket and store
    path is no change to warn about, while the other edits apply at once."""
    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path))
    other = tmp_path / "other.db"
    overrides = Overrides(store=other, socket=f"unix:{tmp_path}/cli.sock")
    rt = await Runtime.start(overrides.apply(policy_mod.load(path)), policy_path=path, overrides=overrides,
                             watch=False)
    try:
        assert rt.policy.store.path == other
        path.write_text(path.read_text().replace(f'path = "{tmp_path}/meta.db"', f'path = "{tmp_path}/file.db"')
                        + f'\n[milter]\nsocket = "unix:{tmp_path}/file.sock"\n'
                        + '[filters.dlp]\nscan_inbound = true\n[customers."new.example"]\nspam = true\n')
        caplog.set_level(logging.INFO, logger="privacy_milter")
        assert rt.reload("test") is True
        assert rt.policy.settings("dlp").scan_inbound is True  # the edit took effect
        assert rt.policy.customer("new.example") is not None
        assert rt.policy.store.path == other and rt.policy.milter.socket == f"unix:{tmp_path}/cli.sock"
        assert "next restart" not in caplog.text  # the overrides, not the file, say where: nothing changed
    finally:
        await rt.stop()


async def test_purge_uses_retention_window(runtime):
    from privacy_milter.store import record_from

    m = message()
    verdict = await runtime.process(m)
    old = record_from(m, verdict, runtime.hasher, time.time() - 61 * 86400)
    runtime.store.add(old)
    assert await runtime.purge() == 1
    assert (await runtime.store.stats())["messages"] == 1


async def test_reload_refuses_a_fifo_and_a_huge_file_and_the_running_policy_stays(runtime, caplog):
    import asyncio
    import os

    path = runtime.policy_path
    path.write_text(path.read_text() + "\n[filters.dlp]\nscan_inbound = true\n")
    assert runtime.reload("test") is True
    path.rename(path.with_suffix(".bak"))
    os.mkfifo(path)
    assert await asyncio.wait_for(asyncio.to_thread(runtime.reload, "test"), 5) is False
    assert "not a regular file" in caplog.text
    path.unlink()
    path.write_text("#" * (21 * 1024 * 1024))
    assert await asyncio.wait_for(asyncio.to_thread(runtime.reload, "test"), 5) is False
    assert "over the limit of 1048576 bytes" in caplog.text
    assert runtime.policy.settings("dlp").scan_inbound is True


async def test_the_file_watcher_reads_off_the_loop(tmp_path, monkeypatch):
    """A reload that takes a while must not stop the loop from serving."""
    import asyncio
    import threading

    from privacy_milter import runtime as runtime_mod

    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path))
    monkeypatch.setattr(runtime_mod, "WATCH_INTERVAL", 0.05)
    rt = await Runtime.start(policy_mod.load(path), policy_path=path, watch=True)
    loop_thread = threading.get_ident()
    threads = []
    real_load = runtime_mod.load_with

    def slow_load(*args):
        threads.append(threading.get_ident())
        time.sleep(0.5)
        return real_load(*args)

    monkeypatch.setattr(runtime_mod, "load_with", slow_load)
    try:
        path.write_text(BASE.format(dir=tmp_path) + "\n[filters.dlp]\nscan_inbound = true\n")
        ticks = 0
        deadline = time.monotonic() + 5
        while not rt.policy.settings("dlp").scan_inbound and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            ticks += 1
        assert rt.policy.settings("dlp").scan_inbound is True
        assert threads and loop_thread not in threads
        assert ticks > 20  # the loop kept running during the 0.5 s read
    finally:
        await rt.stop()


def test_20000_recipients_make_a_short_log_line_with_the_exact_count():
    from privacy_milter.logline import message_line
    from privacy_milter.model import Verdict

    m = message()
    m.recipients = [Recipient(f"user{i}@d{i}.example") for i in range(20000)]
    line = message_line(m, Verdict(Action.ACCEPT, ()))
    assert len(line) < 2048, len(line)
    assert "nrcpt=20000" in line
    assert ",+19980 more " in line
    m.recipients = [Recipient("a@one.example"), Recipient("b@one.example"), Recipient("c@two.example")]
    assert "rcpt_domains=one.example,two.example nrcpt=3" in message_line(m, Verdict(Action.ACCEPT, ()))


async def test_log_line_and_record_name_the_rules_that_fired(runtime, caplog):
    caplog.set_level(logging.INFO, "privacy_milter")
    secret = "4539 1488 0343 6467"
    verdict = await runtime.process(message(body=f"My card number is {secret}, expiry 09/27\r\n".encode(),
                                            auth="alice"))
    rules = sorted({r for f in verdict.findings for r in f.rules})
    assert rules and all(r.startswith("card.") for r in rules)
    line = next(r.getMessage() for r in caplog.records if "4TEST:" in r.getMessage())
    assert f"rules={','.join(rules)}" in line and "4539" not in line
    await runtime.store.flush()
    facts = dict(next(r for r in verdict.results if r.filter == "dlp").facts)
    assert facts["dlp_rules"] == ",".join(rules)


async def test_the_daemon_records_its_starts_reloads_and_purges_for_the_summary(runtime):
    import asyncio

    import aiosqlite

    path = runtime.policy_path
    assert runtime.reload("test") is True
    path.write_text(path.read_text() + "\n[nonsense]\n")
    assert runtime.reload("test") is False
    await runtime.purge()
    for _ in range(50):  # the reload notes go through the loop as tasks of their own
        await asyncio.sleep(0.02)
        async with aiosqlite.connect(runtime.store.path) as db:
            rows = await (await db.execute("SELECT kind, count FROM events ORDER BY time")).fetchall()
        if {k for k, _ in rows} >= {"purge", "reload_ok", "reload_refused", "start"}:
            break
    kinds = [k for k, _ in rows]
    assert set(kinds) == {"purge", "reload_ok", "reload_refused", "start"}  # the purge also runs at start
    assert kinds.count("reload_ok") == 1 and kinds.count("reload_refused") == 1


async def test_summary_and_tls_policy_changes_need_a_restart_and_the_reload_line_says_so(runtime, caplog):
    """[summary]'s jobs keep the policy they started with (issue 25), so a reload that took
    its new values would show settings nothing uses; the line names every such section."""
    before_summary, before_tls = runtime.policy.summary, runtime.policy.tls_policy
    path = runtime.policy_path
    path.write_text(path.read_text().replace("[tls_policy]\nenabled = false\n",
                                             "[tls_policy]\nenabled = false\nnameserver = \"192.0.2.53\"\n")
                    + f'[summary]\nhour = 9\n[log]\nlevel = "warning"\nfile = "{path.parent / "new.log"}"\n')
    caplog.set_level(logging.INFO, logger="privacy_milter")
    assert runtime.reload("test")
    assert runtime.policy.summary == before_summary and runtime.policy.tls_policy == before_tls
    assert runtime.policy.log.level == "warning" and runtime.policy.log.file == ""  # the level at once
    (line,) = [r.getMessage() for r in caplog.records if "next restart" in r.getMessage()]
    assert "[tls_policy], [summary], [log] file changed" in line
    assert "systemctl restart privacy-milter" in line
    logging.getLogger().setLevel(logging.INFO)


# --- Services as promised (issue 25) ----------------------------------------------------------

async def test_one_http_session_serves_every_rspamd_check_and_closes_at_stop(tmp_path):
    """services.Services.http: one aiohttp session for the daemon, so rspamd checks reuse a
    kept-alive connection (a session per check opened one connection per message), kept
    across reloads and closed at stop."""
    from aiohttp import web

    peers: list[int] = []

    async def checkv2(request: web.Request) -> web.Response:
        await request.read()
        peers.append(request.transport.get_extra_info("peername")[1])  # the client's port
        return web.json_response({"action": "add header", "score": 7.0})

    app = web.Application()
    app.router.add_post("/checkv2", checkv2)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path) + '[pipeline]\nfilters = ["dlp", "spam"]\n'
                    f'[filters.spam]\nbackend = "rspamd"\naddress = "{url}"\n'
                    '[customers."hosted.example"]\nspam = true\n')
    rt = await Runtime.start(policy_mod.load(path), policy_path=path, watch=False)
    try:
        session = rt.services.http
        assert session is not None and not session.closed
        for _ in range(3):
            verdict = await rt.process(message())
            assert verdict.action is Action.TAG
        assert rt.reload("test") and rt.services.http is session
        assert (await rt.process(message())).action is Action.TAG
        assert len(peers) == 4 and len(set(peers)) == 1, peers  # one connection, kept alive
    finally:
        await rt.stop()
        await runner.cleanup()
    assert session.closed


async def test_the_store_figures_are_read_through_the_writers_public_health(runtime):
    """metrics read the backlog, failures and drops through `store.pending` and
    `store.health`: no private field is read and no writer method is replaced."""
    store, metrics = runtime.store, runtime.metrics
    assert "_failed" not in vars(store)  # nothing wrapped the writer's own failure hook
    store._failed("store write failed: disk I/O error")  # a failure, as the flush loop reports it
    store._failed("store write failed: disk I/O error")
    assert store.health.failures == 2
    value = metrics.registry.get_sample_value
    assert value("privacy_milter_store_write_failures_total") == 2
    store.add(_record())
    assert store.pending == 1 and value("privacy_milter_store_backlog_records") == 1


def _record():
    from privacy_milter.store import AddressHasher, record_from
    from privacy_milter.model import Verdict

    return record_from(message(), Verdict(Action.ACCEPT, ()), AddressHasher(b"k" * 32), time.time())


async def test_the_weekly_summary_sends_through_services_smtp_and_reads_the_reloaded_policy(tmp_path):
    """The summary job takes the daemon's one SMTP sender and clock (Services), and builds
    each report from the policy in force: a reload of [network] reaches it, while [summary]
    itself stays as scheduled (restart-only, docs/POLICY.md)."""
    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path) + '[summary]\nrecipients = ["admins@hosted.example"]\n')
    rt = await Runtime.start(policy_mod.load(path), policy_path=path, watch=False)
    try:
        (job,) = [j for j in rt.scheduler._jobs if j.name == "summary"]
        weekly = job.run
        assert rt.services.smtp is not None and weekly.sender is rt.services.smtp
        assert weekly.clock is rt.services.clock
        assert rt.services.smtp.helo == rt.policy.store.host_name
        path.write_text(path.read_text().replace('["hosted.example"]', '["hosted.example", "new.example"]'))
        assert rt.reload("test")
        assert weekly.policy.network.hosted_domains == rt.policy.network.hosted_domains
        assert "new.example" in weekly.policy.network.hosted_domains
    finally:
        await rt.stop()
