#!/usr/bin/env python3
"""WebSocket conformance cases in the spirit of Autobahn|Testsuite sections 1-7 and 10, run
against an OpenClaw gateway (protocol v4) by an independent client.

Usage: conformance.py --port P --token T   (prints one JSON verdict on stdout)

Most cases speak raw RFC 6455 over a socket, since they must send frames that no well-behaved
library would (reserved bits, unmasked frames, bad close payloads); a few use the `websockets`
package as a strict, independent client. Every case opens its own connection and decides
pass/fail by itself; the verdict is {"websockets": version, "cases": [{id, title, ok, expected,
observed}]}. The exit code is 0 even when cases fail (the Rust test names them); it is 2 when the
script itself cannot run (bad arguments, `websockets` missing).

Expected behaviours (RFC 6455, and what the reference's `ws` library does):
* a violation of the framing rules fails the connection with close 1002, a text message or close
  reason that is not UTF-8 with close 1007 (no reason text); the server then closes TCP;
* pings get a pong with the same payload; unsolicited pongs are ignored;
* fragmented messages are reassembled, with control frames allowed between the fragments;
* a client close is echoed with the same code, then the server closes TCP;
* a message over the limit (64 KiB before auth) is closed 1009.
"""

import argparse
import asyncio
import json
import struct
import sys
import time

try:
    import websockets
    from websockets.asyncio.client import connect as ws_connect
except ImportError as exc:  # the Rust test turns this into a failure with this message
    print(f"conformance.py: the python package `websockets` is missing ({exc}); "
          "install it with `pip install websockets==15.0.1` (.ci/run does)", file=sys.stderr)
    sys.exit(2)

from ws_raw import (  # noqa: E402  (beside this script)
    OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, TIMEOUT, Raw, connect_frame, health,
)


class Suite:
    def __init__(self, port, token):
        self.port, self.token = port, token
        self.cases = []

    def fresh(self):
        """A raw socket after the challenge (pre-auth)."""
        ws = Raw(self.port)
        ev = ws.next_event()
        assert ev[0] == "text" and ev[1].get("event") == "connect.challenge", f"first frame {ev}"
        return ws

    def authed(self):
        ws = self.fresh()
        ws.send_text(connect_frame("c1", self.token))
        res = ws.res("c1")
        assert res and res.get("ok") is True, f"connect: {res}"
        return ws

    def record(self, cid, title, ok, expected, observed):
        self.cases.append({"id": cid, "title": title, "ok": bool(ok),
                           "expected": expected, "observed": observed})

    def run(self, cid, title, expected, fn):
        started = time.monotonic()
        try:
            ok, observed = fn()
        except Exception as exc:  # a case that crashes is a failed case, not a crashed suite
            ok, observed = False, f"{type(exc).__name__}: {exc}"
        self.record(cid, title, ok, expected, observed)
        self.cases[-1]["ms"] = round((time.monotonic() - started) * 1000)

    # ---- building blocks -------------------------------------------------------------------

    def expect_fail(self, code, send, authed=True):
        """Sends something illegal; passes when the server closes with `code` and then ends TCP."""
        def case():
            ws = self.authed() if authed else self.fresh()
            send(ws)
            evs = ws.events()
            ws.close()
            closes = [e for e in evs if e[0] == "close"]
            ok = bool(closes) and closes[0][1] == code and evs[-1][0] in ("eof", "reset") \
                and not any(e[0] == "text" and isinstance(e[1], dict) and e[1].get("type") == "res"
                            for e in evs)
            return ok, repr(evs[-4:])
        return case

    def expect_answer(self, send, rid, extra=None):
        """Sends a request (however framed); passes when `res` `rid` is ok and the socket lives."""
        def case():
            ws = self.authed()
            seen = send(ws)
            res = ws.res(rid)
            ok = res is not None and res.get("ok") is True
            if extra is not None:
                ok = ok and extra(seen)
            ws.send_text(health("alive"))
            alive = ws.res("alive")
            ws.close()
            return ok and alive is not None, f"res={json.dumps(res)[:200]} then alive={alive is not None} seen={seen}"
        return case

    # ---- the cases ---------------------------------------------------------------------------

    def framing(self):
        run = self.run
        run("1.1.1", "text message, single frame", "res ok",
            self.expect_answer(lambda ws: ws.send_text(health("h")), "h"))
        run("1.1.2", "text message of 65,000 bytes after auth (126-length header)", "res ok",
            self.expect_answer(lambda ws: ws.send_text(json.dumps(
                {"type": "req", "id": "h", "method": "health", "params": {"pad": "a" * 65000}})), "h"))
        run("1.1.3", "text message of 200,000 bytes after auth (127-length header)", "res ok",
            self.expect_answer(lambda ws: ws.send_text(json.dumps(
                {"type": "req", "id": "h", "method": "health", "params": {"pad": "a" * 200000}})), "h"))
        run("1.1.4", "empty text message after auth is ignored", "no answer, socket stays open",
            self._empty_text())
        run("1.2.1", "binary message carrying a JSON request", "res ok (treated like text)",
            self.expect_answer(lambda ws: ws.send_frame(OP_BINARY, health("b").encode()), "b"))
        run("3.1", "RSV1 set on a text frame", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_TEXT, health("x").encode(), rsv=4)))
        run("3.2", "RSV2 set on a ping", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_PING, b"p", rsv=2)))
        run("3.3", "RSV3 set, before auth", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_TEXT, b"{}", rsv=1), authed=False))
        run("3.4", "all RSV bits after a valid request (the answer comes first)", "res, then close 1002",
            self._rsv_after_request())
        for op in (3, 4, 5, 6, 7):
            run(f"4.1.{op - 2}", f"reserved data opcode {op}", "close 1002",
                self.expect_fail(1002, lambda ws, op=op: ws.send_frame(op, b"x")))
        for op in (11, 12, 13, 14, 15):
            run(f"4.2.{op - 10}", f"reserved control opcode {op}", "close 1002",
                self.expect_fail(1002, lambda ws, op=op: ws.send_frame(op, b"x")))
        run("1.3.1", "unmasked client text frame", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_TEXT, health("u").encode(), mask=False)))

    def _empty_text(self):
        def case():
            ws = self.authed()
            ws.send_text(b"")
            ws.send_text(health("alive"))
            res = ws.res("alive")
            ws.close()
            return res is not None and res.get("ok") is True, f"alive={res is not None}"
        return case

    def _rsv_after_request(self):
        def case():
            ws = self.authed()
            ws.send_text(health("h"))
            ws.send_frame(OP_TEXT, health("x").encode(), rsv=7)
            evs = ws.events()
            ws.close()
            answered = any(e[0] == "text" and isinstance(e[1], dict) and e[1].get("id") == "h" for e in evs)
            closes = [e for e in evs if e[0] == "close"]
            return answered and bool(closes) and closes[0][1] == 1002, repr(evs[-3:])
        return case

    def pings(self):
        run = self.run

        def ping_case(payload):
            def case():
                ws = self.authed()
                ws.send_frame(OP_PING, payload)
                while True:
                    ev = ws.next_event()
                    if ev[0] != "text":
                        break
                ws.close()
                return ev == ("pong", payload), repr(ev)[:200]
            return case
        run("2.1", "ping without payload", "pong without payload", ping_case(b""))
        run("2.2", "ping with text payload", "pong echoes it", ping_case(b"Hello, world!"))
        run("2.3", "ping with binary payload", "pong echoes it", ping_case(bytes([0, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0])))
        run("2.4", "ping with 125-byte payload", "pong echoes it", ping_case(bytes(range(125))))
        run("2.5", "ping with 126-byte payload", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_PING, b"x" * 126)))
        run("2.6", "unsolicited pong (with payload) is ignored", "no answer, socket stays open",
            self.expect_answer(lambda ws: (ws.send_frame(OP_PONG, b"unsolicited"),
                                           ws.send_text(health("h"))), "h"))
        run("2.7", "pong with 126-byte payload", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_PONG, b"x" * 126)))
        run("2.8", "ping before auth", "pong (transport level, any time)", self._ping_pre_auth())
        run("2.9", "ten pings in a row", "a pong for (at least) the latest; socket stays open",
            self._ping_burst())
        run("2.10", "fragmented ping (FIN=0)", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_PING, b"frag", fin=False)))

    def _ping_pre_auth(self):
        def case():
            ws = self.fresh()
            ws.send_frame(OP_PING, b"early")
            ev = ws.next_event()
            ws.close()
            return ev == ("pong", b"early"), repr(ev)
        return case

    def _ping_burst(self):
        def case():
            ws = self.authed()
            for i in range(10):
                ws.send_frame(OP_PING, b"p%d" % i)
            ws.send_text(health("h"))
            pongs = []
            while True:
                ev = ws.next_event()
                if ev[0] == "pong":
                    pongs.append(ev[1])
                if ev[0] == "text" and isinstance(ev[1], dict) and ev[1].get("id") == "h":
                    break
                if ev[0] in ("close", "eof", "reset", "timeout"):
                    ws.close()
                    return False, repr(ev)
            # RFC 6455 §5.5.3: only the most recent ping needs a pong; the last pong sent must
            # be for the last ping (a later one may still be queued behind the answer).
            while not pongs or pongs[-1] != b"p9":
                ev = ws.next_event()
                if ev[0] != "pong":
                    break
                pongs.append(ev[1])
            ws.close()
            return bool(pongs) and pongs[-1] == b"p9" and len(pongs) <= 10, repr(pongs)
        return case

    def fragmentation(self):
        run = self.run
        req = health("f").encode()

        def in_pieces(ws, pieces, first=OP_TEXT, between=None):
            for i, piece in enumerate(pieces):
                ws.send_frame(first if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1)
                if between is not None and i < len(pieces) - 1:
                    between(ws)
        run("5.1", "text message in two fragments", "res ok",
            self.expect_answer(lambda ws: in_pieces(ws, [req[:10], req[10:]]), "f"))
        run("5.2", "text message in one fragment per byte", "res ok",
            self.expect_answer(lambda ws: in_pieces(ws, [req[i:i + 1] for i in range(len(req))]), "f"))
        run("5.3", "fragments with empty payloads around the content", "res ok",
            self.expect_answer(lambda ws: in_pieces(ws, [b"", req, b""]), "f"))
        run("5.4", "ping between fragments", "pong, then res ok",
            self._ping_between_fragments(req, in_pieces))
        run("5.5", "binary message in fragments", "res ok",
            self.expect_answer(lambda ws: in_pieces(ws, [req[:5], req[5:]], first=OP_BINARY), "f"))
        run("5.6", "continuation without a message to continue", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_CONT, req)))
        run("5.7", "continuation (FIN) without a start, before auth", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_CONT, b"x", fin=True), authed=False))
        run("5.8", "new text frame while a fragmented message is open", "close 1002",
            self.expect_fail(1002, lambda ws: (ws.send_frame(OP_TEXT, req[:5], fin=False),
                                               ws.send_frame(OP_TEXT, req[5:]))))
        run("5.9", "new binary frame while a fragmented text message is open", "close 1002",
            self.expect_fail(1002, lambda ws: (ws.send_frame(OP_TEXT, req[:5], fin=False),
                                               ws.send_frame(OP_BINARY, req[5:]))))
        run("5.10", "connect handshake itself in three fragments", "hello-ok", self._fragmented_connect())

    def _ping_between_fragments(self, req, in_pieces):
        def case():
            ws = self.authed()
            in_pieces(ws, [req[:7], req[7:20], req[20:]], between=lambda w: w.send_frame(OP_PING, b"mid"))
            evs = []
            while True:
                ev = ws.next_event()
                evs.append(ev)
                if ev[0] != "pong" and not (ev[0] == "text" and isinstance(ev[1], dict)
                                            and ev[1].get("type") == "event"):
                    break
            ws.close()
            pongs = [e for e in evs if e[0] == "pong"]
            last = evs[-1]
            ok = bool(pongs) and pongs[-1][1] == b"mid" and last[0] == "text" and last[1].get("id") == "f" \
                and last[1].get("ok") is True
            return ok, repr(evs)[:300]
        return case

    def _fragmented_connect(self):
        def case():
            ws = self.fresh()
            data = connect_frame("c1", self.token).encode()
            third = len(data) // 3
            pieces = [data[:third], data[third:2 * third], data[2 * third:]]
            for i, p in enumerate(pieces):
                ws.send_frame(OP_TEXT if i == 0 else OP_CONT, p, fin=i == 2)
            res = ws.res("c1")
            ws.close()
            return res is not None and res.get("ok") is True, json.dumps(res)[:200]
        return case

    def utf8(self):
        run = self.run
        greek = "κόσμε".encode()

        def system_event(text_bytes):
            return b'{"type":"req","id":"u","method":"system-event","params":{"text":"' + text_bytes + b'"}}'
        run("6.1", "valid multi-byte UTF-8 in one frame", "res ok",
            self.expect_answer(lambda ws: ws.send_text(system_event(greek)), "u"))
        msg = system_event("€ 𝄞 κόσμε".encode())
        cut = msg.index("€".encode()) + 1  # inside the 3-byte euro sign
        run("6.2", "valid UTF-8 split inside a code point across fragments", "res ok",
            self.expect_answer(lambda ws: (ws.send_frame(OP_TEXT, msg[:cut], fin=False),
                                           ws.send_frame(OP_CONT, msg[cut:])), "u"))
        bad = {
            "6.3.1": (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", "UTF-16 surrogate"),
            "6.3.2": (b"\xff", "byte 0xFF"),
            "6.3.3": (b"\xc0\xaf", "overlong encoding of '/'"),
            "6.3.4": (b"\xf4\x90\x80\x80", "code point above U+10FFFF"),
            "6.3.5": (b"\xe2\x82", "truncated 3-byte sequence at the end"),
        }
        for cid, (raw, what) in bad.items():
            run(cid, f"invalid UTF-8 in a text frame: {what}", "close 1007",
                self.expect_fail(1007, lambda ws, raw=raw: ws.send_text(system_event(raw))))
        run("6.4.1", "invalid UTF-8 in the last of several fragments", "close 1007",
            self.expect_fail(1007, lambda ws: (ws.send_frame(OP_TEXT, b'{"type":"req",', fin=False),
                                               ws.send_frame(OP_CONT, b'"id":"\xed\xa0\x80"}'))))
        run("6.4.2", "invalid UTF-8 in a text frame before auth", "close 1007",
            self.expect_fail(1007, lambda ws: ws.send_text(b"\xfe\xff"), authed=False))

    def closing(self):
        run = self.run

        def close_echo(payload, want_code):
            def case():
                ws = self.authed()
                ws.send_frame(OP_CLOSE, payload)
                evs = ws.events()
                ws.close()
                closes = [e for e in evs if e[0] == "close"]
                ok = len(closes) == 1 and closes[0][1] == want_code and evs[-1][0] in ("eof", "reset")
                return ok, repr(evs[-3:])
            return case
        run("7.1.1", "client close 1000 with reason", "echo 1000, then TCP close",
            close_echo(struct.pack("!H", 1000) + b"bye", 1000))
        run("7.1.2", "client close without payload", "empty close echoed, then TCP close",
            close_echo(b"", None))
        run("7.1.3", "client close 1000 with a 123-byte reason", "echo 1000",
            close_echo(struct.pack("!H", 1000) + b"r" * 123, 1000))
        run("7.1.4", "client close then more frames (ignored)", "echo 1000 and nothing else",
            self._data_after_close())
        run("7.1.5", "client close in the middle of a fragmented message", "echo 1000",
            self._close_mid_fragment())
        run("7.3.1", "close payload of 1 byte", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_CLOSE, b"\x03")))
        run("7.3.2", "close payload of 126 bytes (over the control frame limit)", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"r" * 124)))
        run("7.3.3", "close reason that is not UTF-8", "close 1007",
            self.expect_fail(1007, lambda ws: ws.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xce\xba\xed\xa0\x80")))
        run("7.3.4", "fragmented close frame", "close 1002",
            self.expect_fail(1002, lambda ws: ws.send_frame(OP_CLOSE, struct.pack("!H", 1000), fin=False)))
        for i, code in enumerate((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999)):
            run(f"7.7.{i + 1}", f"valid close code {code}", f"echo {code}",
                close_echo(struct.pack("!H", code), code))
        for i, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535)):
            run(f"7.9.{i + 1}", f"invalid close code {code}", "close 1002",
                self.expect_fail(1002, lambda ws, code=code: ws.send_frame(OP_CLOSE, struct.pack("!H", code))))
        run("7.5.1", "close before auth", "echo 1000", self._close_pre_auth())

    def _data_after_close(self):
        def case():
            ws = self.authed()
            ws.send_frame(OP_CLOSE, struct.pack("!H", 1000))
            ws.send_text(health("late"))
            ws.send_frame(OP_PING, b"late")
            evs = ws.events()
            ws.close()
            closes = [e for e in evs if e[0] == "close"]
            others = [e for e in evs if e[0] in ("text", "pong")]
            return len(closes) == 1 and closes[0][1] == 1000 and not others, repr(evs)[:300]
        return case

    def _close_mid_fragment(self):
        def case():
            ws = self.authed()
            ws.send_frame(OP_TEXT, b'{"type":"req"', fin=False)
            ws.send_frame(OP_CLOSE, struct.pack("!H", 1000))
            evs = ws.events()
            ws.close()
            closes = [e for e in evs if e[0] == "close"]
            return len(closes) == 1 and closes[0][1] == 1000, repr(evs)[-200:]
        return case

    def _close_pre_auth(self):
        def case():
            ws = self.fresh()
            ws.send_frame(OP_CLOSE, struct.pack("!H", 1000))
            evs = ws.events()
            ws.close()
            closes = [e for e in evs if e[0] == "close"]
            return len(closes) == 1 and closes[0][1] == 1000 and evs[-1][0] in ("eof", "reset"), repr(evs)
        return case

    def limits(self):
        run = self.run
        big = json.dumps({"type": "req", "id": "big", "method": "health", "params": {"pad": "a" * 1_000_000}}).encode()

        def chunks(data, size):
            return [data[i:i + size] for i in range(0, len(data), size)]

        def fragmented(ws, data, size, first=OP_TEXT):
            parts = chunks(data, size)
            for i, p in enumerate(parts):
                ws.send_frame(first if i == 0 else OP_CONT, p, fin=i == len(parts) - 1)
        for cid, size in (("10.1.1", 64), ("10.1.2", 4096), ("10.1.3", 65536), ("10.1.4", 1 << 20)):
            run(cid, f"1 MB request in fragments of {size} bytes after auth", "res ok",
                self.expect_answer(lambda ws, size=size: fragmented(ws, big, size), "big"))
        over = b'{"type":"req","id":"c1","method":"connect","params":{"x":"' + b"a" * 70_000 + b'"}}'
        run("10.2.1", "70 KB frame before auth (limit 64 KiB)", "close 1009",
            self.expect_fail(1009, lambda ws: ws.send_text(over), authed=False))
        run("10.2.2", "70 KB before auth in 1 KiB fragments", "close 1009",
            self.expect_fail(1009, lambda ws: fragmented(ws, over, 1024), authed=False))
        run("10.2.3", "a frame header announcing 2^62 bytes", "close 1009 (never allocated)",
            self.expect_fail(1009, lambda ws: ws.send_frame(OP_TEXT, b"", length=1 << 62)))

    async def library_cases(self):
        """The `websockets` package as a strict client: it validates every server frame and the
        closing handshake itself."""
        uri = f"ws://127.0.0.1:{self.port}/"

        async def roundtrip():
            async with ws_connect(uri, open_timeout=TIMEOUT, close_timeout=TIMEOUT,
                                  max_size=None, compression=None) as ws:
                challenge = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                assert challenge["event"] == "connect.challenge", challenge
                await ws.send(connect_frame("c1", self.token))
                hello = await self._lib_res(ws, "c1")
                assert hello["ok"] is True, hello
                latency = await asyncio.wait_for(await ws.ping(b"lib-ping"), TIMEOUT)
                await ws.send(iter(['{"type":"req",', '"id":"frag",', '"method":"health"}']))
                frag = await self._lib_res(ws, "frag")
                await ws.close(1000, "done")
                return (hello["ok"] and frag["ok"] is True and ws.close_code == 1000
                        and ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000,
                        f"ping {latency * 1000:.1f} ms, close_rcvd={ws.protocol.close_rcvd}")

        async def shutdown_style_close():
            # A close from the client with a 4000 code (the reference client's "tick timeout").
            async with ws_connect(uri, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
                await ws.close(4000, "tick timeout")
                return ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4000, f"close_rcvd={ws.protocol.close_rcvd}"

        for cid, title, expected, fn in (
            ("L.1", "websockets client: handshake, ping, fragmented send, clean close",
             "hello-ok, pong, res ok, close 1000 echoed", roundtrip),
            ("L.2", "websockets client: close 4000 before auth", "close 4000 echoed", shutdown_style_close),
        ):
            try:
                ok, observed = await asyncio.wait_for(fn(), 3 * TIMEOUT)
            except Exception as exc:
                ok, observed = False, f"{type(exc).__name__}: {exc}"
            self.record(cid, title, ok, expected, observed)

    @staticmethod
    async def _lib_res(ws, rid):
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            if frame.get("type") == "res" and frame.get("id") == rid:
                return frame


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--only", default="", help="comma-separated case id prefixes")
    args = parser.parse_args()
    suite = Suite(args.port, args.token)
    started = time.monotonic()
    for section in (suite.framing, suite.pings, suite.fragmentation, suite.utf8, suite.closing, suite.limits):
        section()
    asyncio.run(suite.library_cases())
    cases = suite.cases
    if args.only:
        prefixes = tuple(args.only.split(","))
        cases = [c for c in cases if c["id"].startswith(prefixes)]
    print(json.dumps({"websockets": websockets.__version__, "seconds": round(time.monotonic() - started, 2),
                      "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
