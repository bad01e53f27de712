"""Reusable steps: top-level ``x-`` keys (a home for YAML anchors), and ``call`` by id or path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.respond import aiir, journal, no_terminal, of_type

Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    no_terminal(monkeypatch)


HEAD = """\
aiir: 1
id: {id}
title: {title}
owner: security
severity: SEV3
tags: {{owasp: ["LLM01:2025"]}}
"""

ANCHORED = (
    HEAD.format(id="anchored", title="Shared steps by anchor")
    + """\
x-shared:
  evidence: &evidence
    kind: checklist
    title: Keep the evidence
    items:
      - {id: logs, text: Export the gateway logs}
      - {id: chat, text: Save the chat transcript}
start: first
nodes:
  first:
    <<: *evidence
    next: second
  second:
    <<: *evidence
    title: Keep the evidence again
    next: done
  done: {kind: end, title: Done, outcome: resolved}
"""
)


def test_x_keys_hold_anchors_and_are_read_by_nothing(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(ANCHORED, encoding="utf-8")
    assert aiir(capsys, "validate", str(path)).status == 0
    (tmp_path / "answers.yaml").write_text("first: all\nsecond: all\n", encoding="utf-8")
    incidents = tmp_path / "inc"
    ran = aiir(
        capsys,
        "run",
        str(path),
        "-a",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(incidents),
    )
    assert ran.status == 0, ran.err
    assert "Keep the evidence again" in ran.out + ran.err


def test_other_unknown_top_level_keys_are_still_refused(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(ANCHORED.replace("x-shared:", "shared:"), encoding="utf-8")
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert "unknown field 'shared'" in ran.out + ran.err


CALLED = (
    HEAD.format(id="evidence-reminder", title="Evidence reminder")
    + """\
start: keep
nodes:
  keep:
    kind: confirm
    title: Keep
    prompt: Evidence kept?
    yes: done
    no: done
  done: {kind: end, title: Kept, outcome: resolved}
"""
)

CALLER = (
    HEAD.format(id="caller", title="Calls a shared step")
    + """\
start: hand
nodes:
  hand:
    kind: call
    title: The evidence reminder
    runbook: TARGET
    next: done
  done: {kind: end, title: Done, outcome: resolved}
"""
)


def _caller(tmp_path: Path, target: str) -> Path:
    (tmp_path / "shared").mkdir(exist_ok=True)
    (tmp_path / "shared" / "evidence.yaml").write_text(CALLED, encoding="utf-8")
    path = tmp_path / "caller.yaml"
    path.write_text(CALLER.replace("TARGET", target), encoding="utf-8")
    return path


@pytest.mark.parametrize("target", ["shared/evidence.yaml", "./shared/evidence.yaml"])
def test_a_call_by_path_walks_that_runbook(tmp_path: Path, capsys: Capture, target: str) -> None:
    path = _caller(tmp_path, target)
    assert aiir(capsys, "validate", str(path)).status == 0
    (tmp_path / "answers.yaml").write_text("evidence-reminder:\n  keep: yes\n", encoding="utf-8")
    incidents = tmp_path / "inc"
    ran = aiir(
        capsys,
        "run",
        str(path),
        "-a",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(incidents),
    )
    assert ran.status == 0, ran.out + ran.err
    (folder,) = incidents.iterdir()
    (entered,) = of_type(journal(incidents, folder.name), "call.entered")
    assert (entered["child"], entered["ref"]) == ("evidence-reminder", target)


def test_a_path_like_id_says_use_the_id_or_a_yaml_path(tmp_path: Path, capsys: Capture) -> None:
    path = _caller(tmp_path, "shared/evidence")
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert (
        "nodes.hand.runbook: 'shared/evidence' is neither a runbook id nor a path: use the runbook "
        "id (e.g. 'triage') or a path ending in .yaml (e.g. 'shared/evidence.yaml')"
    ) in ran.out + ran.err


def test_a_call_to_a_missing_path_is_named(tmp_path: Path, capsys: Capture) -> None:
    path = _caller(tmp_path, "shared/missing.yaml")
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert "shared/missing.yaml" in ran.out + ran.err


def test_a_call_by_path_resumes_from_the_copy_the_incident_kept(
    tmp_path: Path, capsys: Capture
) -> None:
    path = _caller(tmp_path, "shared/evidence.yaml")
    incidents = tmp_path / "inc"
    stopped = aiir(capsys, "run", str(path), "--incident-dir", str(incidents))
    assert stopped.status != 0  # no terminal and no answer for the called runbook's question
    (folder,) = incidents.iterdir()
    assert of_type(journal(incidents, folder.name), "call.entered")
    (tmp_path / "shared" / "evidence.yaml").unlink()  # a resume needs only the incident's copy
    (tmp_path / "answers.yaml").write_text("evidence-reminder:\n  keep: yes\n", encoding="utf-8")
    resumed = aiir(
        capsys,
        "resume",
        folder.name,
        "-a",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(incidents),
    )
    assert resumed.status == 0, resumed.out + resumed.err
    events = journal(incidents, folder.name)
    assert of_type(events, "incident.ended")[-1]["outcome"] == "resolved"


FRAGMENT = """\
aiir: 1
fragment: evidence-steps
nodes:
  keep-evidence:
    kind: checklist
    title: Keep the evidence
    items:
      - {id: logs, text: Export the gateway logs}
    next: done
"""

INCLUDER = (
    HEAD.format(id="includer", title="Includes shared steps")
    + """\
include: [shared/steps.yaml]
start: look
nodes:
  look: {kind: confirm, title: Look, prompt: Real?, yes: keep-evidence, no: done}
  done: {kind: end, title: Done, outcome: resolved}
"""
)


def _sharer() -> str:
    """The includer without the word "include" anywhere: the key is spelt with an escape."""
    text = INCLUDER.replace("includer", "sharer").replace("Includes", "Shares")
    return text.replace("include:", '"\\x69nclude":')


def _includer(tmp_path: Path, fragment: str = FRAGMENT, runbook: str = INCLUDER) -> Path:
    (tmp_path / "shared").mkdir(exist_ok=True)
    (tmp_path / "shared" / "steps.yaml").write_text(fragment, encoding="utf-8")
    path = tmp_path / "includer.yaml"
    path.write_text(runbook, encoding="utf-8")
    return path


# The key as written, and spelt with a YAML escape in a file without the word (the copy is
# resolved either way).
SPELLINGS = {"includer": INCLUDER, "sharer": _sharer()}


@pytest.mark.parametrize("runbook_id", SPELLINGS)
def test_an_included_fragment_s_nodes_are_walked_and_kept_in_the_copy(
    tmp_path: Path, capsys: Capture, runbook_id: str
) -> None:
    path = _includer(tmp_path, runbook=SPELLINGS[runbook_id])
    assert aiir(capsys, "validate", str(path)).status == 0
    assert aiir(capsys, "validate", str(tmp_path)).status == 0  # the fragment, checked alone too
    (tmp_path / "answers.yaml").write_text("look: yes\nkeep-evidence: all\n", encoding="utf-8")
    incidents = tmp_path / "inc"
    ran = aiir(
        capsys,
        "run",
        str(path),
        "-a",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(incidents),
    )
    assert ran.status == 0, ran.out + ran.err
    assert "Keep the evidence" in ran.out
    (folder,) = incidents.iterdir()
    copy = (folder / "runbooks" / f"{runbook_id}.yaml").read_text(encoding="utf-8")
    assert "keep-evidence:" in copy  # resolved: a resume needs no fragment file
    assert "\ninclude:" not in copy
    assert aiir(capsys, "verify", folder.name, "--incident-dir", str(incidents)).status == 0


def test_an_error_in_a_fragment_names_the_fragment_s_file_and_line(
    tmp_path: Path, capsys: Capture
) -> None:
    path = _includer(tmp_path, FRAGMENT.replace("kind: checklist", "kind: checklst"))
    ran = aiir(capsys, "run", str(path), "--incident-dir", str(tmp_path / "inc"))
    assert ran.status == 2
    assert f"{tmp_path / 'shared' / 'steps.yaml'}:5:11: error: " in ran.err
    assert "unknown node kind 'checklst'" in ran.err
    assert not (tmp_path / "inc").exists()


def test_a_node_defined_twice_names_both_places(tmp_path: Path, capsys: Capture) -> None:
    path = _includer(tmp_path, FRAGMENT.replace("keep-evidence:", "done:"))
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert f"{tmp_path / 'shared' / 'steps.yaml'}:4:3: error: " in ran.out + ran.err
    assert f"node 'done' is defined twice (also in {path}:11)" in ran.out + ran.err


def test_a_cycle_of_includes_is_refused(tmp_path: Path, capsys: Capture) -> None:
    path = _includer(tmp_path, FRAGMENT.replace("nodes:", "include: [steps.yaml]\nnodes:"))
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert "include cycle: includer.yaml → steps.yaml → steps.yaml" in ran.out + ran.err


@pytest.mark.parametrize(
    "target", ["../includer.yaml", "/etc/aiir/x.yaml", "a/../../x.yaml", "..\\x.yaml", "~/x.yaml"]
)
def test_an_include_that_leaves_the_folder_is_refused_with_its_line(
    tmp_path: Path, capsys: Capture, target: str
) -> None:
    """A runbook from a shared repository cannot make a responder's aiir read files elsewhere."""
    path = _includer(tmp_path, FRAGMENT.replace("nodes:", f"include: ['{target}']\nnodes:"))
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert "steps.yaml:3:" in ran.out + ran.err, ran.out + ran.err
    assert "leaves the runbook's folder" in ran.out + ran.err
    assert "Traceback" not in ran.out + ran.err


def _outside(tmp_path: Path, text: str) -> Path:
    """A file outside the runbook's folder (``tmp_path / "repo"``), as a link in the repo might
    point at a responder's credentials."""
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    target = tmp_path / "elsewhere" / "secret.yaml"
    target.write_text(text, encoding="utf-8")
    return target


@pytest.mark.parametrize("link", ["file", "folder"])
def test_a_call_through_a_link_out_of_the_folder_is_refused(
    tmp_path: Path, capsys: Capture, link: str
) -> None:
    """A path written inside the folder that a symbolic link leads out of is not read: neither
    validated as fine nor walked."""
    outside = _outside(tmp_path, CALLED)
    repo = tmp_path / "repo"
    repo.mkdir()
    path = _caller(repo, "shared/evidence.yaml" if link == "file" else "linked/secret.yaml")
    if link == "file":
        (repo / "shared" / "evidence.yaml").unlink()
        (repo / "shared" / "evidence.yaml").symlink_to(outside)
    else:
        (repo / "linked").symlink_to(outside.parent, target_is_directory=True)
    for command in (["validate", str(path)], ["run", str(path), "--incident-dir", str(tmp_path)]):
        ran = aiir(capsys, *command)
        assert ran.status == 2, ran.out + ran.err
        assert "through a symbolic link" in ran.out + ran.err
        assert f"{path}:12:" in ran.out + ran.err, ran.out + ran.err
        assert "Traceback" not in ran.out + ran.err
    assert not any(p.is_dir() for p in tmp_path.glob("INC-*")), "no incident is begun"


def test_an_include_through_a_link_out_of_the_folder_is_refused(
    tmp_path: Path, capsys: Capture
) -> None:
    outside = _outside(tmp_path, FRAGMENT)
    repo = tmp_path / "repo"
    repo.mkdir()
    path = _includer(repo)
    (repo / "shared" / "steps.yaml").unlink()
    (repo / "shared" / "steps.yaml").symlink_to(outside)
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert f"{path}:7:" in ran.out + ran.err, ran.out + ran.err
    assert "'shared/steps.yaml' leads out of" in ran.out + ran.err


def test_a_link_that_stays_inside_the_folder_is_followed(tmp_path: Path, capsys: Capture) -> None:
    path = _caller(tmp_path, "shared/linked.yaml")
    (tmp_path / "shared" / "linked.yaml").symlink_to(tmp_path / "shared" / "evidence.yaml")
    assert aiir(capsys, "validate", str(path)).status == 0
