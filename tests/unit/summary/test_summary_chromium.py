"""The HTML part rendered by headless Chromium (Debian's chromium package).

The page is served from a loopback HTTP server that is also Chromium's proxy for every URL
(loopback included), so any request, to any host, lands in its access log. The browser's own
chatter (update checks, network time) comes without a Referer; what the page asks for comes
with one naming the page's origin, and must stay on the page's own host and paths. A control
page with one external image proves the log shows such a request. The cid: references
are rewritten to the image files' names for this render only.
Set SUMMARY_SCREENSHOT=docs/summary-example.png to refresh the screenshot in the docs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from privacy_milter.summary.render import CID_DOMAIN, render

from summary_helpers import synthetic

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium package (apt-get install chromium)")
RUN_TIMEOUT = 90.0


class _Server:
    def __init__(self, root: Path) -> None:
        self.requests: list[tuple[str, str, str, str]] = []   # (method, host, path, referer)
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def _note(self) -> None:
                url = urlsplit(self.path)
                outer.requests.append((self.command, url.netloc or self.headers.get("Host", ""),
                                       url.path or self.path, self.headers.get("Referer", "")))

            def do_GET(self):
                self._note()
                url = urlsplit(self.path)
                if url.netloc and url.netloc != outer.hostport:
                    self.send_error(403)           # never fetch the outside world for it
                    return
                self.path = url.path
                super().do_GET()

            def do_CONNECT(self):
                self._note()
                self.send_error(403)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.hostport = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def chromium(tmp: Path, proxy: str, url: str, *extra: str) -> bytes:
    argv = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp / 'profile'}", "--window-size=900,1400",
            f"--proxy-server=http://{proxy}", "--proxy-bypass-list=<-loopback>", *extra, url]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        try:                                       # its helpers share the session: stop them all
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
    return out


def write_page(root: Path) -> list[str]:
    out = render(synthetic())
    html = out.html
    for chart in out.images:
        (root / chart.name).write_bytes(chart.png)
        html = html.replace(f"cid:{chart.name}@{CID_DOMAIN}", chart.name)
    assert "cid:" not in html
    (root / "index.html").write_text(html, encoding="utf-8")
    return ["/index.html"] + [f"/{c.name}" for c in out.images]


def distinct_colours(png: Path) -> int:
    from PIL import Image                     # Pillow comes with matplotlib
    with Image.open(png) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours or [])


def test_chromium_renders_the_html_part_with_only_its_own_resources(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    own = write_page(root)
    shot = tmp_path / "summary.png"
    with _Server(root) as server:
        url = f"http://{server.hostport}/index.html"
        dom = chromium(tmp_path, server.hostport, url, "--dump-dom").decode("utf-8", "replace")
        chromium(tmp_path, server.hostport, url, f"--screenshot={shot}")
        requests = list(server.requests)
    assert "12,345 messages, 99.2% encrypted." in dom
    for figure in ("9,876", "2,469", "98.9%", "oldbank.example", "starttls-not-supported", "5,432"):
        assert figure in dom, figure
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.example" in dom
    assert shot.stat().st_size > 20_000 and shot.read_bytes().startswith(b"\x89PNG")
    assert distinct_colours(shot) > 50                   # text, tables and charts, not blank
    origin = f"http://{server.hostport}/"
    page = [r for r in requests if r[1] == server.hostport or r[3].startswith(origin)]
    assert {h for _, h, _, _ in page} == {server.hostport}, page
    assert set(own) <= {p for _, _, p, _ in page} <= set(own) | {"/favicon.ico"}, page
    if target := os.environ.get("SUMMARY_SCREENSHOT"):
        from PIL import Image
        with Image.open(shot) as im:
            im.crop((0, 0, 900, 1400)).resize((600, 933)).quantize(colors=128).save(target, optimize=True)


def test_the_access_log_would_show_an_external_request(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text('<html><body><p>x</p>'
                                     '<img src="http://tracker.example/pixel.png"></body></html>')
    with _Server(root) as server:
        chromium(tmp_path, server.hostport, f"http://{server.hostport}/index.html", "--dump-dom")
        requests = list(server.requests)
    origin = f"http://{server.hostport}/"
    outside = [r[:3] for r in requests if r[3].startswith(origin) and r[1] != server.hostport]
    assert outside == [("GET", "tracker.example", "/pixel.png")], requests
