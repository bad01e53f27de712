"""The shipped library: `aiir library` lists it, and every command that takes a runbook, a
scenario or a suite takes a file, a directory or a shipped id the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiir.formats.library import KINDS, resolve, resolve_one, shipped
from aiir.formats.loader import load_file
from tests.respond import aiir, no_terminal
from tests.support.cli import Ran

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory far from the checkout, as after `pip install`, with no terminal (CI)."""
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_error(ran: Ran) -> str:
    """The run stopped on bad input with one line on stderr, nothing on stdout."""
    assert (ran.status, ran.out) == (2, ""), ran.out + ran.err
    assert len(ran.err.splitlines()) == 1, ran.err
    assert ran.err.startswith("aiir: ")
    return ran.err.removeprefix("aiir: ").rstrip("\n")


# --- aiir library ----------------------------------------------------------------------------


def test_library_lists_every_kind_with_ids_titles_and_paths(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "library")
    assert ran.status == 0, ran.err
    for heading in ("runbooks (16)", "drills (27)", "tabletops (3)", "canaries (3)", "answers (1)"):
        assert any(line.startswith(heading) for line in ran.out.splitlines()), heading
    for path in sorted((REPO / "runbooks").glob("*.yaml")):
        data = load_file(path).data
        (row,) = [line for line in ran.out.splitlines() if line.endswith(f"[{path}]")]
        assert row.split()[0] == data["id"]
        assert data["title"] in row  # and outside the checkout, the full path


def test_library_json_is_one_object_per_document(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "library", "--json")
    assert ran.status == 0, ran.err
    rows = json.loads(ran.out)
    assert {row["kind"] for row in rows} == set(KINDS)
    assert all(set(row) == {"kind", "id", "title", "path"} for row in rows)
    assert all(Path(row["path"]).is_file() for row in rows)
    assert all(row["title"] for row in rows)
    jailbreak = [r for r in rows if r["id"] == "prompt-injection-jailbreak"]
    assert [(r["kind"], Path(r["path"]).name) for r in jailbreak] == [
        ("drills", "prompt-injection.yaml")
    ]


def test_library_kind_lists_only_that_kind(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "library", "--kind", "canaries", "--json")
    assert ran.status == 0, ran.err
    assert sorted(r["id"] for r in json.loads(ran.out)) == [
        "coding-assistant",
        "rag-assistant",
        "support-assistant",
    ]


# --- the resolver ------------------------------------------------------------------------------


def test_an_id_is_found_by_its_id_field_and_by_its_file_name() -> None:
    by_field = resolve_one("prompt-injection-jailbreak", ["drills"])
    by_name = resolve_one("prompt-injection", ["drills"])
    assert by_field == by_name
    assert by_field.parent.name == "drills"
    assert resolve_one("tabletop-racist-output", ["tabletops"]).name == "racist-output.yaml"


def test_an_existing_path_wins_over_an_id(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (elsewhere / "triage").write_text("not yaml: [\n", encoding="utf-8")
    assert resolve_one("triage", ["runbooks"]) == Path("triage")


def test_a_directory_gives_its_documents_of_the_kind_and_skips_other_yaml(
    elsewhere: Path,
) -> None:
    suite = elsewhere / "watch" / "suite.yaml"
    suite.parent.mkdir()
    suite.write_bytes((REPO / "examples/canaries/support-assistant.yaml").read_bytes())
    (elsewhere / "watch" / "mkdocs.yml").write_text("site: !!python/name:x\n", encoding="utf-8")
    (elsewhere / "watch" / "notes.yaml").write_text("a: 1\n", encoding="utf-8")
    (elsewhere / "watch" / ".aiir").mkdir()
    (elsewhere / "watch" / ".aiir" / "copy.yaml").write_bytes(suite.read_bytes())
    assert resolve(["watch"], ["canaries"]) == [suite.relative_to(elsewhere)]


def test_a_broken_aiir_document_in_a_directory_is_reported_with_its_place(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (elsewhere / "watch").mkdir()
    (elsewhere / "watch" / "bad.yaml").write_text("aiir: 1\ncanary: [\n", encoding="utf-8")
    message = one_error(aiir(capsys, "canary", "run", "watch", "--sandbox"))
    assert message.startswith("watch/bad.yaml:"), message


def test_a_file_named_twice_runs_once() -> None:
    files = resolve(["prompt-injection", str(REPO / "examples/drills")], ["drills"])
    assert len(files) == len({p.resolve() for p in files}) == len(shipped("drills"))


# --- every command takes a path, a directory or an id --------------------------------------------


def test_run_takes_a_shipped_runbook_and_shipped_answers_by_id(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(
        capsys, "run", "prompt-injection", "--sandbox", "--yes", "--answers", "prompt-injection"
    )
    assert ran.status == 0, ran.out + ran.err
    assert "Outcome: contained" in ran.out
    (incident,) = (elsewhere / ".aiir" / "incidents").iterdir()
    assert (incident / "runbooks" / "prompt-injection.yaml").is_file()


def test_run_takes_a_directory_that_holds_one_runbook(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (elsewhere / "mine").mkdir()
    runbook = (REPO / "runbooks" / "prompt-injection.yaml").read_bytes()
    (elsewhere / "mine" / "pi.yaml").write_bytes(runbook)
    answers = str(REPO / "examples" / "answers" / "prompt-injection.yaml")
    ran = aiir(capsys, "run", "mine", "--dry-run", "--answers", answers)
    assert ran.status == 0, ran.out + ran.err


def test_run_on_a_directory_of_several_runbooks_names_the_choices(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = one_error(aiir(capsys, "run", str(REPO / "runbooks")))
    assert "16 runbooks in this directory; name one of them: bias-amplification.yaml," in message
    assert "triage.yaml" in message
    assert not (elsewhere / ".aiir").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "prompt-injektion"],
            "prompt-injektion: no such file, directory or shipped runbook (did you mean "
            "prompt-injection, indirect-prompt-injection? see: aiir library --kind runbooks)",
        ),
        (["run", "nothing/here.yaml"], "nothing/here.yaml: no such file or directory"),
        (
            ["run", "triage", "--answers", "nope"],
            "--answers nope: no such file, directory or shipped answers file "
            "(see: aiir library --kind answers)",
        ),
        (
            ["graph", "sytem-prompt-leak"],
            "sytem-prompt-leak: no such file, directory or shipped runbook (did you mean "
            "system-prompt-leak? see: aiir library --kind runbooks)",
        ),
        (
            ["drill", "model-drif"],
            "model-drif: no such file, directory or shipped drill scenario or tabletop scenario "
            "(did you mean model-drift, model-extraction? see: aiir library --kind drills)",
        ),
        (
            ["canary", "run", "suport-assistant", "--sandbox"],
            "suport-assistant: no such file, directory or shipped canary suite (did you mean "
            "support-assistant, rag-assistant, coding-assistant? see: aiir library --kind "
            "canaries)",
        ),
        (
            ["canary", "run", "support-assistant", "--sandbox", "--on-fail-run", "nope"],
            "--on-fail-run nope: no such file, directory or shipped runbook "
            "(see: aiir library --kind runbooks)",
        ),
        (
            ["tabletop", "racist"],
            "racist: no such file, directory or shipped tabletop scenario or drill scenario "
            "(did you mean racist-output? see: aiir library --kind tabletops)",
        ),
        (
            ["flag", "support-bot", "it swore", "--open", "nope"],
            "--open nope: no such file, directory or shipped runbook "
            "(see: aiir library --kind runbooks)",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_an_unknown_name_is_one_line_with_close_matches_and_nothing_runs(
    elsewhere: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert one_error(aiir(capsys, *args)) == message
    assert not (elsewhere / ".aiir").exists()  # no incident, no flag, no canary history


def test_drill_takes_shipped_ids(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = aiir(capsys, "drill", "prompt-injection-jailbreak", "model-drift")
    assert ran.status == 0, ran.out + ran.err
    assert "2 passed, 0 failed" in ran.out


def test_canary_run_takes_a_directory_like_drill_does(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "canary", "run", str(REPO / "examples" / "canaries"), "--sandbox")
    assert ran.status == 0, ran.out + ran.err
    assert "3 suite(s), 0 failing" in ran.out


def test_canary_run_takes_ids_and_a_shipped_on_fail_runbook(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "canary", "run", "support-assistant", "--sandbox", "--on-fail-run", "triage")
    assert ran.status == 0, ran.out + ran.err


def test_graph_and_validate_take_ids(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = aiir(capsys, "graph", "triage", "--format", "mermaid")
    assert ran.status == 0, ran.err
    assert ran.out.startswith("flowchart")
    ran = aiir(capsys, "validate", "--strict", "triage", "support-assistant", "racist-output")
    assert (ran.status, ran.out) == (0, "3 file(s) valid\n"), ran.err


def test_tabletop_takes_an_id(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Found and checked; only then refused, for want of a room at a keyboard.
    message = one_error(aiir(capsys, "tabletop", "racist-output"))
    assert message.startswith("a tabletop needs a terminal"), message


def test_each_shipped_profile_is_named_after_its_file_and_read_when_asked_for() -> None:
    from aiir.formats.library import PROFILES, ShippedProfiles
    from aiir.formats.profile import Profile

    shipped = ShippedProfiles(PROFILES)
    assert sorted(shipped) == sorted(p.stem for p in PROFILES.glob("*.yaml"))
    assert shipped._read == {}
    for name in shipped:
        assert shipped[name].profile == name
    assert all(isinstance(p, Profile) for p in shipped._read.values())


def test_checking_a_runbook_reads_only_the_profiles_its_gateways_name(tmp_path: Path) -> None:
    from aiir.formats import library
    from aiir.validate.documents import validate_paths

    library.builtin_profiles.cache_clear()
    try:
        report = validate_paths([library.data_dir("runbooks") / "prompt-injection.yaml"])
        assert report.findings == []
        assert sorted(library.builtin_profiles()._read) == ["litellm"]
    finally:
        library.builtin_profiles.cache_clear()
