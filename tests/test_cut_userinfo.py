"""A URL whose password holds a ``/``, ``?`` or ``#`` not percent-encoded: a URL parser ends the
host at it and takes the password's first part for the port. The masking of ``user:password@``
in every message missed such a userinfo (it stopped at the ``/``), so ``--otlp`` and
``$AIIR_STORE`` errors showed the whole password, and the parser's error (``Port could not be
cast to integer value as 'PREFIX'``) its first part."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.redact import scrub
from tests.support.cli import run_cli

PREFIX = "Xq7prefixZ"
REST = "rest99tail"


@pytest.mark.parametrize("cut", ["/", "?", "#"])
def test_a_userinfo_cut_by_a_delimiter_is_masked_in_any_message(cut: str) -> None:
    said = scrub(f"--otlp 'http://svc:{PREFIX}{cut}{REST}@127.0.0.1:4318/v1/traces': bad", [])
    assert said == "--otlp 'http://***@127.0.0.1:4318/v1/traces': bad"


@pytest.mark.parametrize(
    "text",
    [
        "https://registry.npmjs.org/@scope/pkg",  # an @ in a path, no userinfo
        "http://127.0.0.1:8080/users/@alice",  # a port, then a path with an @
        "https://example.com/a?from=me@example.com",
    ],
)
def test_an_at_in_a_path_is_no_userinfo(text: str) -> None:
    assert scrub(text, []) == text


@pytest.mark.parametrize("cut", ["/", "?", "#"])
def test_otlp_and_store_urls_say_no_part_of_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    password = f"{PREFIX}{cut}{REST}"
    otlp = run_cli(
        capsys, "export", "INC-20260101-000000-0001", "--format", "otlp",
        "--otlp", f"http://svc:{password}@127.0.0.1:4318/v1/traces",
    )  # fmt: skip
    monkeypatch.setenv("AIIR_STORE", f"postgresql://svc:{password}@127.0.0.1:1/db")
    store = run_cli(capsys, "incidents")
    for ran in (otlp, store):
        assert ran.status == 2, ran.err
        assert PREFIX not in ran.out + ran.err
        assert REST not in ran.out + ran.err


def test_a_junit_path_that_holds_url_credentials_is_masked_in_the_drills_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--junit`` given a store URL (the wrong variable pasted): the report was written there as
    a path, and 'JUnit report: postgresql:/u:PASSWORD@…' printed the password."""

    junit = tmp_path / "postgresql:" / "u:Pw-junit-leak-77@127.0.0.1:9" / "db.xml"
    scenario = Path(__file__).parent.parent / "examples" / "drills" / "prompt-injection.yaml"
    ran = run_cli(
        capsys,
        "drill",
        str(scenario),
        "--junit",
        str(junit),
        "--incident-dir",
        str(tmp_path / "inc"),
    )
    assert ran.status == 0, ran.err
    assert junit.is_file()
    assert "Pw-junit-leak-77" not in ran.out + ran.err
    assert "JUnit report:" in ran.out
