#!/usr/bin/env python3
"""Connect attempts with a given token from wherever this runs (the remote-lockout test runs it
inside a network namespace, so the gateway sees a non-loopback address).

Usage: auth_attempts.py --host H --port P --token T [--token T2 ...]
Prints a JSON list, one entry per token in order: {"res": <the connect res>, "close": [code, reason],
"ms": <connect sent → res>}. Uses the raw client of ws_raw.py.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ws_raw import Raw, connect_frame  # noqa: E402


def attempt(host, port, token):
    ws = Raw(port, host=host)
    challenge = ws.next_event()
    assert challenge[0] == "text" and challenge[1].get("event") == "connect.challenge", challenge
    sent = time.monotonic()
    ws.send_text(connect_frame("c1", token))
    res = ws.res("c1")
    ms = round((time.monotonic() - sent) * 1000)
    close = None
    if res is None or res.get("ok") is not True:
        evs = ws.events()
        close = next(([e[1], e[2]] for e in evs if e[0] == "close"), None)
    ws.close()
    return {"res": res, "close": close, "ms": ms}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", action="append", required=True)
    args = parser.parse_args()
    print(json.dumps([attempt(args.host, args.port, t) for t in args.token]))


if __name__ == "__main__":
    main()
