"""A team adds a profile for its in-house gateway without code, and runbooks `use:` it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.cli import main
from tests.servers import serve_gateway

PROFILE = """\
aiir: 1
profile: acme
title: ACME in-house gateway
actions:
  block_key:
    description: Block a key on the in-house gateway.
    admin: true
    params:
      key: {description: the key}
    method: POST
    path: /key/block
    json: {key: "{{ params.key }}"}
  unblock_key:
    description: Unblock it.
    admin: true
    params:
      key: {description: the key}
    method: POST
    path: /key/unblock
    json: {key: "{{ params.key }}"}
  chat:
    description: A chat completion.
    params:
      key: {description: the key to call with}
    method: POST
    path: /v1/chat/completions
    headers: {Authorization: "Bearer {{ params.key }}"}
    json: {model: support-bot, messages: [{role: user, content: hi}]}
"""

RUNBOOK = """\
aiir: 1
id: acme-block
title: Block a key on the ACME gateway
owner: security
severity: SEV3
gateways:
  acme: {profile: acme, url: http://127.0.0.1:9}
levers:
  block:
    title: Block the key
    kind: block
    engage: {use: acme.block_key, with: {key: sk-bad-0001}}
    verify: {use: acme.chat, with: {key: sk-bad-0001}, expect: {status: 401}}
    release: {use: acme.unblock_key, with: {key: sk-bad-0001}}
start: pull
nodes:
  pull: {kind: lever, title: Block it, lever: block, next: done}
  done: {kind: end, title: Done, outcome: contained}
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "aiir.yaml").write_text("aiir: 1\nworkspace: acme\n", encoding="utf-8")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "acme.yaml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "acme-block.yaml").write_text(RUNBOOK, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIIR_WORKSPACE", raising=False)
    return tmp_path


def test_the_workspace_profile_validates_and_its_actions_run(workspace: Path) -> None:
    assert main(["validate", "--strict", "."]) == 0
    with serve_gateway() as (url, state):
        status = main(["run", "runbooks/acme-block.yaml", "--yes", "--gateway", f"acme={url}"])
        assert status == 0
        assert state.blocked == {"sk-bad-0001"}
        (incident,) = (workspace / ".aiir" / "incidents").iterdir()
        assert main(["release", incident.name, "--yes", "--gateway", f"acme={url}"]) == 0
        assert state.blocked == set()


def test_without_the_profile_the_runbook_is_refused_before_anything_runs(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "profiles" / "acme.yaml").unlink()
    assert main(["run", "runbooks/acme-block.yaml", "--yes"]) == 2
    assert "unknown gateway profile 'acme'" in capsys.readouterr().err
