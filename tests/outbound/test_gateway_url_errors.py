"""A gateway URL the HTTP client cannot parse is reported without the pieces of it the client's
error quotes: a password with a ``/``, ``?`` or ``#`` in it (not percent-encoded) ends the host
there, and the error named the password's first part as the port (``Invalid port:
'hunter'``), which no mask finds (it is not the whole password)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.errors import InputError
from aiir.formats.common import Gateway
from aiir.outbound.gateway import resolve_endpoint
from tests.helpers import write
from tests.support.cli import run_cli

PREFIX = "Xq7prefixZ"


@pytest.mark.parametrize("cut", ["/", "?", "#"])
def test_a_password_cut_by_a_url_delimiter_is_not_quoted(cut: str) -> None:
    url = f"http://svc:{PREFIX}{cut}rest99@127.0.0.1:4000"
    with pytest.raises(InputError) as raised:
        resolve_endpoint("gw", Gateway(profile="http"), {}, url)
    said = str(raised.value)
    assert PREFIX not in said
    assert "must be percent-encoded" in said


def test_other_invalid_urls_still_say_why() -> None:
    with pytest.raises(InputError) as raised:
        resolve_endpoint("gw", Gateway(profile="http"), {}, "http://svc:pw@127.0.0.1\x01:4000")
    assert "non-printable" in str(raised.value)


def test_the_flag_and_the_workspace_template_say_no_part_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = {
        "aiir": 1,
        "id": "cut",
        "title": "A password with a slash",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM02:2025"]},
        "env": {"GW_PW": {"description": "the gateway's password"}},
        "gateways": {"gw": {"profile": "http"}},
        "start": "done",
        "nodes": {"done": {"kind": "end", "title": "Done", "outcome": "resolved"}},
    }
    write(tmp_path / "rb.yaml", runbook)
    templated_url = "http://svc:{{ env.GW_PW }}@127.0.0.1:9"
    workspace = {"aiir": 1, "workspace": "probe", "gateways": {"gw": {"url": templated_url}}}
    write(tmp_path / "ws" / "aiir.yaml", workspace)
    monkeypatch.setenv("GW_PW", f"{PREFIX}/rest99")
    incidents = str(tmp_path / "inc")
    flag = run_cli(
        capsys, "run", str(tmp_path / "rb.yaml"), "--incident-dir", incidents,
        "--gateway", f"gw=http://svc:{PREFIX}/rest99@127.0.0.1:9",
    )  # fmt: skip
    monkeypatch.setenv("AIIR_WORKSPACE", str(tmp_path / "ws"))
    templated = run_cli(capsys, "run", str(tmp_path / "rb.yaml"), "--incident-dir", incidents)
    for ran in (flag, templated):
        assert ran.status == 2, ran.out + ran.err
        assert "its URL is not valid" in ran.err
        assert PREFIX not in ran.out + ran.err
