"""``aiir flag --evidence`` keeps a copy of the file, masked, under its own name: a file named
after the key it holds (``log-sk-….txt``, as a transcript exported per key is) kept the key in
the copy's name and in the flag's record, and in the incident it opens."""

from __future__ import annotations

import pytest

from tests.helpers import write
from tests.reports.test_flag import OPENED, Setup, receiver, setup  # noqa: F401  (fixtures)
from tests.respond import incident_id

KEY = "gw-key-5f0c1d9e8a7b6c5d"


def test_an_evidence_file_named_after_a_secret_is_kept_under_a_masked_name(
    setup: Setup,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_API_KEY", KEY)
    source = setup.root / f"log-{KEY}.txt"
    source.write_text("bot: hello\n")
    write(setup.root / "opened.yaml", OPENED)
    write(setup.root / "answers.yaml", {"real": "yes"})
    ran = setup.flag(
        capsys, "support-bot", "it misbehaved", "--evidence", str(source),
        "--open", str(setup.root / "opened.yaml"), "--answers", str(setup.root / "answers.yaml"),
    )  # fmt: skip
    assert ran.status == 0, ran.err
    _, record, folder = setup.record(ran)
    assert record["evidence"]["file"] == "evidence-log-masked.txt"
    assert (folder / "evidence-log-masked.txt").read_text() == "bot: hello\n"
    kept = setup.incidents / incident_id()
    names = [str(p) for p in [*folder.rglob("*"), *kept.rglob("*")]]
    contents = b"".join(
        p.read_bytes() for p in [*folder.rglob("*"), *kept.rglob("*")] if p.is_file()
    )
    assert not [name for name in names if KEY in name]
    assert KEY.encode() not in contents + ran.out.encode() + ran.err.encode()
