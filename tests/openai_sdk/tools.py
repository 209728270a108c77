"""Drives client function tools through /v1/chat/completions and /v1/responses with the official
OpenAI Python SDK and prints what it saw as one JSON object; the Rust test
(tests/tests/e2e_client_tools.rs) scripts the model and makes the assertions.

    python3 tools.py --base-url http://127.0.0.1:PORT/v1 --key TOKEN

The model behind the gateway answers, in this order: a tool call, an echo, a tool call, a tool
call, an echo, a tool call, an echo.
"""
import argparse
import json
import sys

import openai

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_FLAT = {"type": "function", **WEATHER["function"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    out = {"sdk": openai.__version__}
    client = openai.OpenAI(base_url=args.base_url, api_key=args.key, max_retries=0, timeout=60)

    # 1. Chat: the model calls the client tool.
    question = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(model="openclaw", messages=question, tools=[WEATHER])
    msg = first.choices[0].message
    out["chat_call"] = {
        "finish_reason": first.choices[0].finish_reason,
        "content": msg.content,
        "tool_calls": [
            {"id": c.id, "type": c.type, "name": c.function.name, "arguments": c.function.arguments}
            for c in (msg.tool_calls or [])
        ],
    }

    # 2. Chat: the tool result goes back; the (echo) model answers.
    follow = question + [
        msg.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "sunny, 21 C"},
    ]
    second = client.chat.completions.create(model="openclaw", messages=follow, tools=[WEATHER])
    out["chat_answer"] = {
        "finish_reason": second.choices[0].finish_reason,
        "content": second.choices[0].message.content,
    }

    # 3. Chat, streamed: the call arrives as tool_call deltas the SDK stitches together.
    calls = {}
    finish = []
    for chunk in client.chat.completions.create(model="openclaw", messages=question, tools=[WEATHER], stream=True):
        for choice in chunk.choices:
            if choice.finish_reason:
                finish.append(choice.finish_reason)
            for tc in choice.delta.tool_calls or []:
                c = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    c["id"] = tc.id
                if tc.function and tc.function.name:
                    c["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    c["arguments"] += tc.function.arguments
    out["chat_stream"] = {"finish_reasons": finish, "tool_calls": [calls[i] for i in sorted(calls)]}

    # 4. Responses: a function_call output item.
    resp = client.responses.create(model="openclaw", input="Weather in Oslo?", tools=[WEATHER_FLAT])
    out["responses_call"] = {
        "id": resp.id,
        "status": resp.status,
        "output": [item.model_dump(exclude_none=True) for item in resp.output],
    }
    fc = [item for item in resp.output if item.type == "function_call"][0]

    # 5. Responses: the tool output continues the same session.
    answer = client.responses.create(
        model="openclaw",
        previous_response_id=resp.id,
        input=[{"type": "function_call_output", "call_id": fc.call_id, "output": "sunny, 21 C"}],
        tools=[WEATHER_FLAT],
    )
    out["responses_answer"] = {"status": answer.status, "output_text": answer.output_text}

    # 6. Responses, streamed.
    events = list(client.responses.create(model="openclaw", input="Weather?", tools=[WEATHER_FLAT], stream=True))
    completed = [e for e in events if e.type == "response.completed"]
    out["responses_stream"] = {
        "types": [e.type for e in events],
        "final_output": [item.model_dump(exclude_none=True) for item in completed[-1].response.output] if completed else None,
    }

    # 7. A pinned tool_choice the model does not honour (it echoes): 502.
    try:
        client.chat.completions.create(
            model="openclaw",
            messages=question,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
        out["unmet"] = "no error"
    except openai.APIStatusError as e:
        out["unmet"] = {"class": type(e).__name__, "status": e.status_code, "body": e.body}

    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
