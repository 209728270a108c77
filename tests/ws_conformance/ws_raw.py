"""A raw RFC 6455 client for the conformance cases: it writes exactly the frames it is told to
(reserved bits, unmasked frames, bad close payloads) and reads the server's frames as they are.
Every socket wait is bounded by TIMEOUT."""

import base64
import json
import os
import socket
import struct

TIMEOUT = 10.0  # any single wait; expiring is a failed case, never a hang

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Closed(Exception):
    """The TCP connection ended."""


class Raw:
    """A raw RFC 6455 client: writes exactly the frames it is told to, reads server frames."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise RuntimeError(f"upgrade refused: {status!r}")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed()
        self.buf += chunk

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length is None else length
        if n < 126:
            head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            head += key
        else:
            body = payload
        try:
            self.sock.sendall(head + body)
        except OSError:
            pass  # the server may already have failed the connection; the read side tells

    def send_text(self, text, **kw):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text, **kw)

    def recv_frame(self):
        """(fin, opcode, payload) of the next server frame; raises Closed at EOF."""
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        if b0 & 0x70:
            raise AssertionError("server frame has reserved bits set")
        n, off = b1 & 0x7F, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        while len(self.buf) < off + n:
            self._fill()
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def events(self):
        """Every server frame until EOF: ('text', obj) | ('ping'|'pong', bytes) | ('close', code, reason)
        ending with ('eof',) or ('reset',). A server close is answered as a client does (echo the
        code, half-close TCP), so the server need not wait out its close grace."""
        out = []
        while True:
            try:
                fin, op, payload = self.recv_frame()
            except Closed:
                out.append(("eof",))
                return out
            except ConnectionResetError:
                out.append(("reset",))
                return out
            except socket.timeout:
                out.append(("timeout",))
                return out
            out.append(decode(op, payload))
            if op == OP_CLOSE:
                self.send_frame(OP_CLOSE, payload[:2])
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def next_event(self):
        try:
            fin, op, payload = self.recv_frame()
        except Closed:
            return ("eof",)
        except ConnectionResetError:
            return ("reset",)
        except socket.timeout:
            return ("timeout",)
        return decode(op, payload)

    def res(self, rid):
        """The `res` with id `rid`, skipping events and control frames; None if the socket ends."""
        while True:
            ev = self.next_event()
            if ev[0] == "text" and isinstance(ev[1], dict) and ev[1].get("type") == "res" \
                    and ev[1].get("id") == rid:
                return ev[1]
            if ev[0] in ("close", "eof", "reset", "timeout"):
                return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def decode(op, payload):
    if op in (OP_TEXT, OP_BINARY):
        try:
            return ("text", json.loads(payload))
        except ValueError:
            return ("text", payload.decode("utf-8", "replace"))
    if op == OP_CLOSE:
        if len(payload) >= 2:
            return ("close", struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace"))
        return ("close", None, "")
    if op == OP_PING:
        return ("ping", payload)
    if op == OP_PONG:
        return ("pong", payload)
    return ("opcode", op)


def connect_frame(rid, token):
    return json.dumps({
        "type": "req", "id": rid, "method": "connect",
        "params": {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "cli", "version": "1.0.0", "platform": "linux", "mode": "cli"},
            "role": "operator", "scopes": ["operator.admin", "operator.read"],
            "auth": {"token": token},
        },
    })


def health(rid):
    return json.dumps({"type": "req", "id": rid, "method": "health"})
