"""A small Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no websockets).

Chromium reads JSON commands, each ended by a NUL byte, from file descriptor 3
and writes replies and events to descriptor 4. ``Browser.check(url)`` loads a
page and returns what a reader would meet: console errors and exceptions,
failed loads, tables, images (and whether each one decoded) and links.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--remote-debugging-pipe",
)
PROBE = """JSON.stringify({
  tables: document.querySelectorAll("table").length,
  images: [...document.images].map(i => ({src: i.getAttribute("src"),
                                          ok: i.complete && i.naturalWidth > 0})),
  links: [...document.querySelectorAll("a[href]")].map(a => a.href),
  text: document.body.innerText,
})"""


def find_chromium() -> str | None:
    """Path of a Chromium-family browser, or ``None``."""
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    return None


@dataclass
class PageReport:
    """What loading one page showed.

    Attributes:
        url: The page.
        errors: Console errors, uncaught exceptions and failed loads, as text.
        tables: Number of ``<table>`` elements.
        images: ``(src, decoded)`` per ``<img>``.
        links: Absolute URL of every ``<a href>``.
        text: The page's visible text.

    """

    url: str
    errors: list[str] = field(default_factory=list)
    tables: int = 0
    images: list[tuple[str, bool]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    text: str = ""


class Browser:
    """A headless Chromium driven over the DevTools pipe; use as a context manager."""

    def __init__(self, binary: str, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="lb-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the shell maps our pipe ends onto descriptors 3 and 4, where Chromium expects them
        profile = f"--user-data-dir={shlex.quote(self._profile)}"
        cmd = " ".join(
            [shlex.quote(binary), *FLAGS, profile, f"3<&{to_browser_r}", f"4>&{from_browser_w}"]
        )
        self._proc = subprocess.Popen(
            ["bash", "-c", f"exec {cmd}"],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("no message from chromium in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium exited (status {self._proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        """Block until event ``method`` of ``session`` has arrived."""
        deadline = time.monotonic() + self.timeout
        def seen() -> bool:
            return any(e.get("method") == method and e.get("sessionId") == session
                       for e in self.events)  # fmt: skip

        while not seen():
            self.events.append(self._read(deadline))

    def check(self, url: str) -> PageReport:
        """Load ``url`` in a fresh tab and report what it showed."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        probe = self.call(
            "Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session
        )
        data = json.loads(probe["result"]["value"])
        report = PageReport(
            url,
            tables=data["tables"],
            images=[(i["src"], i["ok"]) for i in data["images"]],
            links=data["links"],
            text=data["text"],
        )
        for e in self.events:
            if e.get("sessionId") != session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                report.errors.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                report.errors.append(f"console: {p.get('args')}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                report.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif e["method"] == "Network.loadingFailed":
                report.errors.append(f"load failed: {p.get('errorText')}")
        self.call("Target.closeTarget", {"targetId": target})
        return report


def crawl(browser: Browser, root: Path):
    """Every page reachable from index.html, and every link target that is not a page."""
    todo, reports, files = [(root / "index.html").resolve()], {}, set()
    while todo:
        page = todo.pop()
        if page in reports:
            continue
        reports[page] = browser.check(page.as_uri())
        for link in reports[page].links:
            url = urlparse(link)
            assert url.scheme == "file", f"{page.name} links off the site: {link}"
            target = Path(unquote(url.path)).resolve()
            (todo.append(target) if target.suffix == ".html" else files.add(target))
    return reports, files
