"""``--gateway NAME=URL`` whose host no name can have (``a..b``, a label over 63 characters, a
byte that is not UTF-8): refused at the flag, one line, exit 2, nothing walked. A drill sent
its fault injection there and ended as an internal error (Python's IDNA codec refuses such a
host with an error no HTTP client reports as a network error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runs import process_env, run_aiir

HOSTS = ["a..b", "x" * 64 + ".example", "gw.\udcff.internal"]


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    "command",
    [
        ["drill", "prompt-injection-jailbreak"],
        ["run", "prompt-injection", "--yes", "--answers", "prompt-injection"],
    ],
)
def test_a_host_no_name_can_have_is_refused_at_the_flag(
    tmp_path: Path, host: str, command: list[str]
) -> None:
    incidents = tmp_path / "incidents"
    url = f"http://{host}:4000"
    ran = run_aiir([*command, "--gateway", f"gateway={url}"], process_env(incidents))
    err = ran.stderr.decode(errors="replace")
    assert ran.returncode == 2, err
    assert len(err.splitlines()) == 1, err
    assert "--gateway gateway=" in err
    assert "its host is no name a host can have" in err
    assert "internal error" not in err
    assert not incidents.exists() or not any(incidents.iterdir())  # nothing walked


@pytest.mark.parametrize(
    ("store", "said"),
    [
        ("postgresql://aiir@a..b/incidents", "its host is no name a host can have"),
        ("postgresql:///incidents?host=a..b", "does not answer"),
    ],
)
def test_a_store_on_such_a_host_is_one_line(tmp_path: Path, store: str, said: str) -> None:
    ran = run_aiir(["incidents", "--store", store], process_env(tmp_path / "incidents"))
    err = ran.stderr.decode(errors="replace")
    assert "internal error" not in err
    assert said in err, err


def test_a_drill_against_a_port_that_is_no_number_is_one_line(tmp_path: Path) -> None:
    ran = run_aiir(
        ["drill", "prompt-injection-jailbreak", "--gateway", "gateway=http://gw:abc/"],
        process_env(tmp_path / "incidents"),
    )
    err = ran.stderr.decode(errors="replace")
    assert ran.returncode == 2, err
    assert err.startswith("aiir: cannot inject fault"), err
    assert len(err.splitlines()) == 1, err
