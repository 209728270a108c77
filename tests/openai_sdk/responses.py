"""Drives /v1/responses with the official OpenAI Python SDK and prints what it saw as one JSON
object; the Rust test (tests/tests/e2e_responses.rs) makes the assertions.

    python3 responses.py --base-url http://127.0.0.1:PORT/v1 --key TOKEN
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

    done = client.responses.create(model="openclaw", input="plain")
    out["plain"] = {
        "id": done.id,
        "object": done.object,
        "status": done.status,
        "model": done.model,
        "output_text": done.output_text,
        "usage": done.usage.model_dump() if done.usage else None,
    }

    events = list(client.responses.create(model="openclaw/main", input="streamed", stream=True))
    completed = [e for e in events if e.type == "response.completed"]
    out["stream"] = {
        "types": [e.type for e in events],
        "text": "".join(e.delta for e in events if e.type == "response.output_text.delta"),
        "final_text": completed[-1].response.output_text if completed else None,
    }

    wrong = openai.OpenAI(base_url=args.base_url, api_key="wrong-" + args.key, max_retries=0, timeout=60)
    try:
        wrong.responses.create(model="openclaw", input="x")
        out["wrong_key"] = "no error"
    except openai.AuthenticationError as e:
        out["wrong_key"] = {"class": type(e).__name__, "status": e.status_code, "body": e.body}

    try:
        client.responses.create(model="openclaw", input="x", extra_body={"surprise": 1})
        out["bad_body"] = "no error"
    except openai.BadRequestError as e:
        out["bad_body"] = {"class": type(e).__name__, "status": e.status_code, "body": e.body}

    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
