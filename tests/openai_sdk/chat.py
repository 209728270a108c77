"""Drives /v1/chat/completions with the official OpenAI Python SDK and prints what it saw as
one JSON object; the Rust test (tests/tests/e2e_openai.rs) makes the assertions.

    python3 chat.py --base-url http://127.0.0.1:PORT/v1 --key TOKEN
"""
import argparse
import json
import sys

import openai


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    out = {"sdk": openai.__version__}
    client = openai.OpenAI(base_url=args.base_url, api_key=args.key, max_retries=0, timeout=60)

    done = client.chat.completions.create(
        model="openclaw", messages=[{"role": "user", "content": "plain"}]
    )
    out["plain"] = {
        "id": done.id,
        "object": done.object,
        "model": done.model,
        "content": done.choices[0].message.content,
        "role": done.choices[0].message.role,
        "finish_reason": done.choices[0].finish_reason,
        "usage": done.usage.model_dump() if done.usage else None,
    }

    chunks = list(
        client.chat.completions.create(
            model="openclaw/main",
            messages=[{"role": "user", "content": "streamed"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    out["stream"] = {
        "objects": sorted({c.object for c in chunks}),
        "ids": sorted({c.id for c in chunks}),
        "role": chunks[0].choices[0].delta.role,
        "text": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
        "finish_reasons": [c.choices[0].finish_reason for c in chunks if c.choices],
        "usage": chunks[-1].usage.model_dump() if chunks[-1].usage else None,
    }

    wrong = openai.OpenAI(base_url=args.base_url, api_key="wrong-" + args.key, max_retries=0, timeout=60)
    try:
        wrong.chat.completions.create(model="openclaw", messages=[{"role": "user", "content": "x"}])
        out["wrong_key"] = "no error"
    except openai.AuthenticationError as e:
        out["wrong_key"] = {"class": type(e).__name__, "status": e.status_code, "body": e.body}

    try:
        client.chat.completions.create(model="openclaw", messages="not a list")
        out["bad_body"] = "no error"
    except openai.BadRequestError as e:
        out["bad_body"] = {"class": type(e).__name__, "status": e.status_code, "body": e.body}

    models = client.models.list()
    out["models"] = [m.id for m in models.data]

    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
