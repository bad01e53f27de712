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

from tests.canaries import write_suite
from tests.runs import process_env, run_aiir

HOSTILE = "a" * 50 + "!"


class _Model(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        reply = {
            "id": "x",
            "object": "chat.completion",
            "model": "support-bot",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": HOSTILE},
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
