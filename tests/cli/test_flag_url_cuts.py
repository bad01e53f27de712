"""A flag's URL quoted in its error was cut to 200 characters before the error was masked: a
long password in its userinfo lost its ``@`` to the cut, and what was left of it (189
characters of it) was shown, where the mask of ``user:password@`` no longer finds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write
from tests.support.cli import run_cli
from tests.test_url_credentials import echo_runbook

PASSWORD = "S3cr3tPw" * 30


@pytest.mark.parametrize(
    "flags",
    [
        ["--otlp", f"ftp://svc:{PASSWORD}@127.0.0.1:4318/v1/traces"],
        ["--gateway", f"gw=ftp://svc:{PASSWORD}@127.0.0.1:4318"],
        ["--gateway", f"http://svc:{PASSWORD}@127.0.0.1:4318"],  # NAME= forgotten
    ],
    ids=["otlp", "gateway", "gateway-pair"],
)
def test_a_long_password_in_a_refused_flag_url_is_masked_before_it_is_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    write(tmp_path / "r.yaml", echo_runbook())
    ran = run_cli(capsys, "run", str(tmp_path / "r.yaml"), *flags, "--yes",
                  "--incident-dir", str(tmp_path / "i"))  # fmt: skip
    assert ran.status == 2
    assert "svc:***@" not in ran.err  # the userinfo is masked whole
    assert "://***@127.0.0.1:4318" in ran.err
    assert PASSWORD[:16] not in ran.out + ran.err
