"""Drives the system Chromium over the DevTools protocol (CDP, with the `websockets` package
the conformance tests already use) against a running gateway, and prints one JSON object of
what it saw. Started by tests/tests/e2e_ui.rs; never downloads a browser.

Every wait is a condition polled until a deadline (no fixed sleeps). Screenshots go to --shots.
"""

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import websockets

STEP = 20.0  # seconds any one condition may take


class Cdp:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.pending = {}
        self.events = []
        self.reader = asyncio.create_task(self.read())

    async def read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self.pending:
                self.pending.pop(msg["id"]).set_result(msg)
            else:
                self.events.append(msg)

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        res = await asyncio.wait_for(fut, STEP)
        if "error" in res:
            raise RuntimeError(f"{method}: {res['error']}")
        return res.get("result", {})


class Page:
    def __init__(self, cdp, session):
        self.cdp = cdp
        self.session = session

    @classmethod
    async def open(cls, cdp, context=None):
        params = {"url": "about:blank"}
        if context:
            params["browserContextId"] = context
        target = (await cdp.call("Target.createTarget", params))["targetId"]
        session = (await cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        page = cls(cdp, session)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call("Emulation.setDeviceMetricsOverride", {"width": 1000, "height": 760, "deviceScaleFactor": 1, "mobile": False})
        return page

    async def call(self, method, params=None):
        return await self.cdp.call(method, params, self.session)

    async def goto(self, url):
        await self.call("Page.navigate", {"url": url})

    async def eval(self, expr):
        res = await self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            return None
        return res["result"].get("value")

    async def wait(self, expr, what):
        deadline = asyncio.get_running_loop().time() + STEP
        last = None
        while asyncio.get_running_loop().time() < deadline:
            last = await self.eval(expr)
            if last:
                return last
            await asyncio.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what} ({expr!r}, last {last!r})")

    async def shot(self, dir, name):
        data = (await self.call("Page.captureScreenshot", {"format": "png"}))["data"]
        with open(os.path.join(dir, f"{name}.png"), "wb") as f:
            f.write(base64.b64decode(data))

    async def text(self, id):
        return await self.eval(f"document.getElementById({json.dumps(id)})?.textContent ?? null")


async def launch(chromium, profile):
    proc = await asyncio.create_subprocess_exec(
        chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
        "--disable-extensions", "--disable-background-networking", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", "about:blank",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = None
    deadline = asyncio.get_running_loop().time() + STEP
    while url is None:
        line = await asyncio.wait_for(proc.stderr.readline(), max(0.1, deadline - asyncio.get_running_loop().time()))
        if not line:
            raise RuntimeError("chromium exited before DevTools was listening")
        m = re.search(rb"DevTools listening on (ws://\S+)", line)
        if m:
            url = m.group(1).decode()
    # Keep draining stderr so chromium never blocks on a full pipe.
    async def drain():
        while await proc.stderr.readline():
            pass
    asyncio.create_task(drain())
    return proc, url


async def scenario(args, cdp, out):
    base = args.url.rstrip("/")
    shots = args.shots
    os.makedirs(shots, exist_ok=True)

    # 1. The dashboard link: connected, version shown, pages render.
    page = await Page.open(cdp)
    await page.goto(f"{base}/#token={args.token}")
    await page.wait("document.getElementById('conn-state')?.textContent === 'Connected'", "Connected")
    await page.wait("document.getElementById('ov-version')?.textContent !== '—'", "version")
    out["badge"] = await page.text("conn-state")
    out["version"] = await page.text("ov-version")
    out["auth"] = await page.text("ov-auth")
    out["scopes"] = await page.text("ov-scopes")
    out["token_kept"] = await page.eval("localStorage.getItem('openclaw.control.token')")
    out["hash_after"] = await page.eval("location.hash")
    out["device_id"] = await page.eval("(async () => (await (await import('./device.js')).loadDevice())?.id ?? null)()")
    await page.shot(shots, "overview")
    out["pages"] = {}
    for name in ["sessions", "chat", "logs", "devices", "channels", "config"]:
        await page.eval(f"location.hash = '#/{name}'")
        await page.wait(f"!document.getElementById('page-{name}').hidden", f"page {name}")
        await page.wait(f"document.querySelector('.tabs a[aria-current=page]')?.dataset.page === '{name}'", f"tab {name}")
        out["pages"][name] = await page.eval(f"document.getElementById('page-{name}').innerText.slice(0, 400)")
        await page.shot(shots, name)

    if args.session:
        await interact(page, args, out)

    # 2. The same page on a phone-sized screen stays usable (no horizontal scroll).
    await page.call("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    await page.eval("location.hash = '#/overview'")
    await page.wait("!document.getElementById('page-overview').hidden", "overview again")
    out["phone_overflow"] = await page.eval("document.documentElement.scrollWidth > window.innerWidth")
    await page.shot(shots, "overview-phone")

    # 3. A wrong token in a fresh profile context: the auth error is shown.
    context = (await cdp.call("Target.createBrowserContext"))["browserContextId"]
    wrong = await Page.open(cdp, context)
    await wrong.goto(f"{base}/#token=not-the-token")
    await wrong.wait("document.getElementById('conn-state')?.textContent === 'Auth error'", "auth error badge")
    out["wrong_badge"] = await wrong.text("conn-state")
    out["wrong_error"] = await wrong.text("auth-error")
    out["wrong_form_visible"] = await wrong.eval("!document.getElementById('auth-panel').hidden")
    await wrong.shot(shots, "wrong-token")
    # Typing the right token into the form connects.
    await wrong.eval(f"document.getElementById('auth-token').value = {json.dumps(args.token)}")
    await wrong.eval("document.getElementById('auth-form').requestSubmit()")
    await wrong.wait("document.getElementById('conn-state')?.textContent === 'Connected'", "Connected after typing the token")
    out["typed_token_badge"] = await wrong.text("conn-state")

    # 4. Canvas: the document loads with the bearer header, and a file change reloads it.
    if args.canvas_doc:
        canvas = await Page.open(cdp)
        await canvas.call("Network.enable")
        await canvas.call("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {args.token}"}})
        await canvas.goto(f"{base}/__openclaw__/canvas/{args.canvas_doc}/")
        await canvas.wait("document.querySelector('h1')?.textContent === 'version 1'", "canvas v1")
        await canvas.wait("globalThis.__openclawCanvasReload?.readyState === 1", "live-reload socket open")
        out["canvas_before"] = await canvas.eval("document.querySelector('h1').textContent")
        print(json.dumps({"canvas_ready": True}), flush=True)
        # The Rust side rewrites the file once it reads the line above.
        await canvas.wait("document.querySelector('h1')?.textContent === 'version 2'", "canvas reloaded to v2")
        out["canvas_after"] = await canvas.eval("document.querySelector('h1').textContent")
        await canvas.shot(shots, "canvas")


async def show(page, name):
    await page.eval(f"location.hash = '#/{name}'")
    await page.wait(f"!document.getElementById('page-{name}').hidden", f"page {name}")


async def interact(page, args, out):
    """Uses each page as a person would; the Rust side acts on the `step` lines printed here."""
    shots = args.shots
    # Sessions: the session an agent turn made is listed; opening it shows its history.
    await show(page, "sessions")
    item = f"document.querySelector('#sessions-list li[data-key={json.dumps(args.session)}]')"
    out["session_listed"] = bool(await page.wait(f"!!{item}", "the turn's session listed"))
    await page.eval(f"{item}.click()")
    await page.wait("document.getElementById('history').innerText.includes('echo: ')", "the session's history")
    out["session_history"] = await page.eval("document.getElementById('history').innerText")
    await page.shot(shots, "sessions")

    # Chat: send a message; the echo reply streams in (chat delta events, then final).
    await show(page, "chat")
    await page.eval("window.__chatStates = []; window.__openclaw.client.on('chat', (p) => window.__chatStates.push(p.state))")
    await page.eval("document.getElementById('chat-input').value = 'hello from chromium'")
    await page.eval("document.getElementById('chat-form').requestSubmit()")
    await page.wait("!!document.querySelector('#chat-log li.assistant[data-state=final]')", "the final chat reply")
    out["chat_reply"] = await page.eval("document.querySelector('#chat-log li.assistant[data-state=final]').textContent")
    out["chat_states"] = await page.eval("window.__chatStates")
    await page.shot(shots, "chat")

    # Logs: a line logged while the page follows appears; a stricter level hides it.
    await show(page, "logs")
    await page.wait("document.getElementById('logs').childNodes.length > 0", "the log tail")
    print(json.dumps({"step": "logs_open"}), flush=True)
    marker = json.dumps(args.log_marker)
    span = f"[...document.getElementById('logs').children].find((s) => s.textContent.includes({marker}))"
    await page.wait(f"!!{span}", "the logged line")
    out["log_line"] = await page.eval(f"{span}.textContent")
    await page.shot(shots, "logs")
    await page.eval("const s = document.getElementById('logs-level'); s.value = 'error'; s.dispatchEvent(new Event('change'))")
    out["log_hidden_at_error"] = await page.eval(f"{span}.hidden")
    await page.eval("const s = document.getElementById('logs-level'); s.value = 'info'; s.dispatchEvent(new Event('change'))")

    # Devices: a node asks to pair while the page is open (live, from device.pair.requested);
    # approving it from the page pairs it.
    await show(page, "devices")
    await page.wait("document.getElementById('devices-pending').textContent.includes('No pending')", "an empty pending list")
    print(json.dumps({"step": "devices_open"}), flush=True)
    button = "[...document.querySelectorAll('#devices-pending button')].find((b) => b.textContent === 'Approve')"
    await page.wait(f"!!{button}", "a pending device")
    out["device_pending"] = await page.eval("document.getElementById('devices-pending').innerText")
    await page.shot(shots, "devices")
    await page.eval(f"{button}.click()")
    await page.wait("document.getElementById('devices-pending').textContent.includes('No pending')", "the request resolved")
    out["device_pending_after"] = await page.eval("document.getElementById('devices-pending').innerText")
    out["device_paired"] = await page.eval("document.getElementById('devices-paired').innerText")

    # Config: an invalid value is refused, shown with its line, and that line is selected.
    await show(page, "config")
    await page.wait("document.getElementById('config-text').value.length > 0", "the config text")
    bad = "{\n  gateway: {\n    bind: 'everywhere',\n  },\n}\n"
    await page.eval(f"document.getElementById('config-text').value = {json.dumps(bad)}")
    await page.eval("document.getElementById('config-save').click()")
    await page.wait("!!document.querySelector('#config-errors li[data-line]')", "the config error")
    out["config_error"] = await page.eval("document.querySelector('#config-errors li').textContent")
    out["config_selected"] = await page.eval("(() => { const a = document.getElementById('config-text'); return a.value.slice(a.selectionStart, a.selectionEnd); })()")
    await page.shot(shots, "config")


async def reference(args, cdp, out):
    """The reference's built Control UI served from `controlUi.root`: connect succeeds, and the
    methods it calls are recorded with the gateway's answers (from the page's WebSocket frames)."""
    os.makedirs(args.shots, exist_ok=True)
    page = await Page.open(cdp)
    await page.call("Network.enable")
    await page.goto(f"{args.url.rstrip('/')}/#token={args.token}")

    params = {}

    def frames():
        sent, got = {}, {}
        for ev in cdp.events:
            if ev.get("sessionId") != page.session:
                continue
            kind = ev.get("method")
            if kind not in ("Network.webSocketFrameSent", "Network.webSocketFrameReceived"):
                continue
            try:
                f = json.loads(ev["params"]["response"]["payloadData"])
            except (KeyError, ValueError):
                continue
            if kind.endswith("Sent") and f.get("type") == "req":
                sent[f.get("id")] = f.get("method")
                params[f.get("id")] = f.get("params")
            elif f.get("type") == "res":
                got[f.get("id")] = f
        return sent, got

    deadline = asyncio.get_running_loop().time() + STEP
    hello = None
    while asyncio.get_running_loop().time() < deadline:
        sent, got = frames()
        hello = next((f for f in got.values() if (f.get("payload") or {}).get("type") == "hello-ok"), None)
        answered = all(i in got for i in sent)
        if hello and len(sent) >= 3 and answered:
            break
        await asyncio.sleep(0.05)
    sent, got = frames()
    out["hello_ok"] = bool(hello)
    out["connect_error"] = next((f.get("error") for i, f in got.items() if sent.get(i) == "connect" and not f.get("ok")), None)
    calls = {}
    for i, method in sent.items():
        f = got.get(i)
        calls.setdefault(method, "no answer" if f is None else "ok" if f.get("ok") else (f.get("error") or {}).get("message", "error"))
    out["calls"] = calls
    # What each method was sent and answered (the first call of each), for the record.
    exchanges = {}
    for i, method in sent.items():
        if method == "connect" or method in exchanges:
            continue
        f = got.get(i) or {}
        exchanges[method] = {"params": params.get(i), "answer": f.get("payload") if f.get("ok") else f.get("error")}
    out["exchanges"] = exchanges
    out["title"] = await page.eval("document.title")
    await page.shot(args.shots, "reference-ui")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    ap.add_argument("--shots", required=True)
    ap.add_argument("--canvas-doc")
    ap.add_argument("--session", help="a session an agent turn made: use every page")
    ap.add_argument("--log-marker", help="the text of the line logged once the logs page is open")
    ap.add_argument("--reference", action="store_true", help="the reference's UI is served: record its calls")
    args = ap.parse_args()
    profile = tempfile.mkdtemp(prefix="openclaw-ui-")
    proc, url = await launch(args.chromium, profile)
    out = {}
    try:
        async with websockets.connect(url, max_size=None) as ws:
            cdp = Cdp(ws)
            await (reference(args, cdp, out) if args.reference else scenario(args, cdp, out))
    except Exception as e:  # reported to the Rust test with what was seen so far
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        proc.kill()
        await proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return 0 if "error" not in out else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
