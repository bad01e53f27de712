"""``aiir validate`` quoted a bad value as it was, its findings printed past the masking every
other error passes: a key of this environment (or one that looks like a key) written in the
wrong field showed on the screen. Findings are masked like any other message, as text and as
JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import write
from tests.support.cli import run_cli
from tests.test_literal_header_credentials import _runbook

ENV_KEY = "live-EnvKey-0123456789abcd"
LOOKS = "sk-live-SevKey0123456789abcdef"


@pytest.mark.parametrize("value", [ENV_KEY, LOOKS], ids=["environment", "looks-like-one"])
def test_a_key_a_finding_quotes_is_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MY_API_KEY", ENV_KEY)
    runbook = _runbook()
    runbook["severity"] = value
    write(tmp_path / "r.yaml", runbook)
    text = run_cli(capsys, "validate", str(tmp_path / "r.yaml"))
    as_json = run_cli(capsys, "validate", "--json", str(tmp_path / "r.yaml"))
    assert (text.status, as_json.status) == (2, 2)
    assert "severity: '***': input should be" in text.err
    assert value not in text.out + text.err + as_json.out + as_json.err
    assert any(f["message"].startswith("'***'") for f in json.loads(as_json.out))
