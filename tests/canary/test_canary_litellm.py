"""Canaries through the real LiteLLM proxy, in front of the simulated gateway as its upstream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiir.cli import main
from tests.canaries import write_suite
from tests.conftest import LiteLLMProxy

pytestmark = pytest.mark.litellm
Capture = pytest.CaptureFixture[str]


def proxy_suite(tmp_path: Path, proxy: LiteLLMProxy) -> Path:
    return write_suite(
        tmp_path / "s.yaml",
        env={"LITELLM_KEY": {"description": "LiteLLM key for the canaries"}},
        gateways={
            "litellm": {
                "profile": "litellm",
                "url": proxy.url,
                "headers": {"Authorization": "Bearer {{ env.LITELLM_KEY }}"},
            }
        },
        drift={"latency_min_shift_ms": 100},
    )


def test_a_leak_behind_litellm_fails_the_leak_assertions(
    litellm_proxy: LiteLLMProxy,
    tmp_path: Path,
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LITELLM_KEY", litellm_proxy.master_key)
    path = proxy_suite(tmp_path, litellm_proxy)
    args = ["canary", "run", str(path), "--json", "--history-dir", str(tmp_path / "h")]
    assert main(args) == 0, capsys.readouterr()
    [healthy] = json.loads(capsys.readouterr().out)
    assert healthy["ok"]
    assert healthy["samples"] == 12
    litellm_proxy.sandbox.add_fault("support-bot", "canary-leak", "")
    try:
        status = main(args)
    finally:
        litellm_proxy.sandbox.clear_faults()
    out = capsys.readouterr().out
    [leaking] = json.loads(out)
    assert status == 1
    failed = {(f["prompt_id"], f["check"]) for f in leaking["failures"]}
    assert {("injection", "canary-token"), ("hours", "canary-token")} <= failed
    assert ("injection", "is-refusal") in failed
    assert litellm_proxy.master_key not in out


def test_a_dead_upstream_behind_litellm_is_a_failed_reply(
    litellm_proxy: LiteLLMProxy,
    tmp_path: Path,
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LITELLM_KEY", litellm_proxy.master_key)
    path = proxy_suite(tmp_path, litellm_proxy)
    litellm_proxy.sandbox.add_fault("*", "error", "1.0")  # the primary and its fallback
    try:
        status = main(["canary", "run", str(path), "--json", "--history-dir", str(tmp_path)])
    finally:
        litellm_proxy.sandbox.clear_faults()
    [result] = json.loads(capsys.readouterr().out)
    assert status == 1
    assert {f["check"] for f in result["failures"]} == {"reply"}
    assert all(f["detail"].startswith("HTTP 5") for f in result["failures"])
