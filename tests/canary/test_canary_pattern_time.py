"""A canary's ``regex`` assertion meets hostile model output in bounded time.

The model on loopback answers ``'a' * 50 + '!'``: ``^(a+)+$`` backtracked for ever under Python's
``re``; ``(a|aa)+$`` takes even the ``regex`` package past its time limit, which fails the assertion
with that reason. The run is a child process with a timeout, so a hang fails the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.canaries import write_suite
from tests.runs import process_env, run_aiir

HOSTILE = "a" * 50 + "!"


class _Model(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        asked = self.rfile.read(int(self.headers.get("content-length") or 0))
        content = json.dumps({"a": HOSTILE, HOSTILE: 1}) if b"JSON" in asked else HOSTILE
        reply = {
            "id": "x",
            "object": "chat.completion",
            "model": "support-bot",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _model() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(tmp_path: Path, prompts: list[dict[str, Any]]) -> tuple[int, str, str]:
    with _model() as url:
        suite = write_suite(
            tmp_path / "suite.yaml",
            gateways={"gw": {"profile": "litellm", "url": url}},
            canary_token=False,
            repeats=1,
            concurrency=1,
            prompts=prompts,
        )
        ran = run_aiir(
            ["canary", "run", str(suite), "--json", "--history-dir", str(tmp_path / "h")],
            process_env(tmp_path / "i"),
        )
    return ran.returncode, ran.stdout.decode(), ran.stderr.decode()


def test_a_json_schemas_patterns_on_hostile_output_are_matched_in_bounded_time(
    tmp_path: Path,
) -> None:
    nested = "^(a+)+$"
    schemas = {
        "value": {"properties": {"a": {"type": "string", "pattern": nested}}},
        "key": {"patternProperties": {nested: {"type": "integer"}}},
        "extra": {"patternProperties": {nested: {}, "^a$": {}}, "additionalProperties": False},
        "slow": {"properties": {"a": {"pattern": "(a|aa)+$"}}},
        # the keys unevaluatedProperties leaves are found by matching patternProperties, too
        "unevaluated": {"patternProperties": {nested: {}}, "unevaluatedProperties": False},
    }
    prompts = [
        {"id": name, "prompt": "JSON please.", "assert": [{"type": "is-json", "schema": schema}]}
        for name, schema in schemas.items()
    ]
    code, out, err = _run(tmp_path, prompts)
    assert code == 1, err
    assert "Traceback" not in out + err
    failures = {f["prompt_id"]: f["detail"] for f in json.loads(out)[0]["failures"]}
    assert set(failures) == {"value", "key", "extra", "slow", "unevaluated"}, failures
    assert "not valid against the schema" in failures["value"]
    assert failures["key"].endswith(" at a")  # the key "a" matched: its value is no integer
    assert "Additional properties are not allowed" in failures["extra"]
    assert "took too long to match" in failures["slow"]
    assert "Unevaluated properties are not allowed" in failures["unevaluated"]


def test_a_regex_assertion_on_hostile_output_fails_in_bounded_time(tmp_path: Path) -> None:
    prompts = [
        {"id": "nested", "prompt": "Say a.", "assert": [{"type": "regex", "value": "^(a+)+$"}]},
        {"id": "slow", "prompt": "Say a.", "assert": [{"type": "regex", "value": "(a|aa)+$"}]},
        {
            "id": "absent",
            "prompt": "Say a.",
            "assert": [{"type": "not-regex", "value": "(a|aa)+$"}],
        },
    ]
    with _model() as url:
        suite = write_suite(
            tmp_path / "suite.yaml",
            gateways={"gw": {"profile": "litellm", "url": url}},
            canary_token=False,
            repeats=1,
            concurrency=1,
            prompts=prompts,
        )
        ran = run_aiir(
            ["canary", "run", str(suite), "--json", "--history-dir", str(tmp_path / "h")],
            process_env(tmp_path / "i"),
        )
    out, err = ran.stdout.decode(), ran.stderr.decode()
    assert ran.returncode == 1, err
    assert "Traceback" not in out + err
    assert out.count("took too long to match") == 2, out
    assert "output does not match" in out, out
