"""aiir against the real LiteLLM proxy with the engage's answer lost on the way back.

A fault-injecting TCP proxy (:mod:`tests.support.faultproxy`) forwards the engage request, so
LiteLLM really answers it, then drops the connection, answers 502 in its place, stalls past the
timeout, or echoes the request (the master key with it). What aiir says must match LiteLLM's
state (the verify probe, sent through the same proxy, finds the lever in effect), the engage is
sent once, the failed try is kept in the journal, and the master key reaches no file or screen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import FALLBACK, PRIMARY, LiteLLMProxy
from tests.outbound.test_litellm import runbook
from tests.support.faultproxy import fault_proxy

pytestmark = pytest.mark.litellm

RUNBOOK = runbook(
    {
        "reroute": {
            "title": "Serve the model group from its fallback",
            "kind": "reroute",
            "engage": {  # without a database the router's own fallbacks are what can be read
                "use": "litellm.get_fallback",
                "with": {"model": PRIMARY},
                "expect": {"json": {"fallback_models": [FALLBACK]}},
                "timeout": 2,
            },
            "verify": {
                "use": "litellm.chat",
                "with": {"model": PRIMARY, "prompt": "reroute check"},
                "expect": {"status": 200},
            },
        }
    },
    {
        "contain": {"kind": "lever", "title": "Reroute", "lever": "reroute", "next": "done"},
        "done": {"kind": "end", "title": "Contained", "outcome": "contained"},
    },
    "contain",
)


def walk(
    tmp_path: Path, url: str, key: str, status: int = 0
) -> tuple[str, str, list[dict[str, Any]]]:
    path = tmp_path / "runbook.yaml"
    path.write_text(yaml.safe_dump(RUNBOOK, sort_keys=False), encoding="utf-8")
    incidents = tmp_path / "incidents"
    env = {**os.environ, "LITELLM_MASTER_KEY": key}
    env |= {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiir",
            "run",
            str(path),
            "--yes",
            "--gateway",
            f"llm={url}",
            "--incident-dir",
            str(incidents),
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )
    said = result.stdout + result.stderr
    assert result.returncode == status, said
    (journal,) = incidents.glob("*/journal.jsonl")
    text = journal.read_text(encoding="utf-8")
    events = [json.loads(line) for line in text.splitlines()]
    return said, text, events


@pytest.mark.parametrize("mode", ["drop", "bad", "stall", "echo"])
def test_an_engage_whose_answer_is_lost_is_confirmed_by_litellm_and_the_loss_is_kept(
    tmp_path: Path, litellm_proxy: LiteLLMProxy, mode: str
) -> None:
    litellm_proxy.sandbox.reset()
    with fault_proxy(litellm_proxy.url, mode, "/fallback/") as (url, faults):
        said, text, events = walk(tmp_path, url, litellm_proxy.master_key)
    assert len(faults.faulted) == 1, faults  # LiteLLM got the engage once, never twice
    assert not [line for line in faults.passed if b"/fallback/" in line]
    engaged = [e["data"] for e in events if e["type"] == "lever.engaged"]
    assert len(engaged) == 1
    assert engaged[0]["ok"] is True
    assert engaged[0]["confirmed_by_verify"] is True
    failure = engaged[0]["engage_failure"]  # what the gateway's link really answered
    assert failure["ok"] is False
    assert failure.get("status") == (502 if mode == "bad" else 200 if mode == "echo" else None)
    assert "its engage request failed" in said
    assert "verify probe finds it in effect" in said
    assert [e["type"] for e in events].count("lever.verified") == 1
    assert litellm_proxy.master_key not in text
    assert litellm_proxy.master_key not in said


def test_an_engage_lost_with_litellm_itself_is_possibly_engaged_never_still_engaged(
    tmp_path: Path, litellm_proxy: LiteLLMProxy
) -> None:
    litellm_proxy.sandbox.reset()
    with fault_proxy(litellm_proxy.url, "down", "/fallback/") as (url, faults):
        said, text, events = walk(tmp_path, url, litellm_proxy.master_key, status=1)
    assert len(faults.faulted) == 1, faults
    engaged = [e["data"] for e in events if e["type"] == "lever.engaged"]
    assert len(engaged) == 1
    assert engaged[0]["ok"] is False
    assert engaged[0]["unknown"] is True
    assert "Still engaged" not in said  # nothing shows it engaged: the probe could not tell
    assert "Possibly engaged (state unknown): reroute; release with: aiir release INC-" in said
    assert litellm_proxy.master_key not in text
    listed = subprocess.run(
        [sys.executable, "-m", "aiir", "incidents", "--incident-dir", str(tmp_path / "incidents")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    assert "engaged: reroute (maybe: state unknown)" in listed
    (incident,) = (p.name for p in (tmp_path / "incidents").iterdir())
    notice = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiir",
            "report",
            incident,
            "-t",
            "customer-notice",
            "--incident-dir",
            str(tmp_path / "incidents"),
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "We contained it" not in notice  # the walk failed: nothing was contained
    assert "We are working\nto contain it" in notice
