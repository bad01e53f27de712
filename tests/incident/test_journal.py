"""The journal is tamper-evident: ``aiir verify`` names the line or evidence file that changed."""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.errors import AiirError
from aiir.incident.journal import (
    APPENDING,
    GENESIS,
    JOURNAL,
    Anchor,
    Journal,
    JournalBroken,
    JournalConflict,
    chain_hash,
    verify,
)
from aiir.incident.state import Incident
from aiir.respond.session import start
from tests.incidents import (
    RecordingPrompter,
    environment,
    walked_containment,
    write_runbook,
)

EDITED = "content does not match its hash (the line was edited)"
OUT_OF_CHAIN = "in the hash chain (a line was removed, inserted or reordered)"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    """One complete incident (answers, levers, captures), walked once for the whole module."""
    return walked_containment(tmp_path_factory.mktemp("journal"))


@pytest.fixture
def incident(finished: Incident, tmp_path: Path) -> Path:
    """A private copy of the finished incident's directory, for one test to tamper with."""
    copy = tmp_path / "incidents" / finished.id
    shutil.copytree(finished.directory, copy)
    return copy


def lines(directory: Path) -> list[bytes]:
    return (directory / JOURNAL).read_bytes().splitlines(keepends=True)


def rewrite(directory: Path, new_lines: list[bytes]) -> None:
    (directory / JOURNAL).write_bytes(b"".join(new_lines))


def evidence_files(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in (directory / "evidence").iterdir())


def line_of(directory: Path, type_: str) -> int:
    """The 1-based line number of the first event of ``type_``."""
    for number, raw in enumerate(lines(directory), start=1):
        if json.loads(raw)["type"] == type_:
            return number
    raise AssertionError(f"no {type_} event")


def verify_cli(directory: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    status = main(["verify", directory.name, "--incident-dir", str(directory.parent), *flags])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


# --- intact ------------------------------------------------------------------------------------


def test_an_intact_incident_verifies(incident: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(incident) == []
    assert len(evidence_files(incident)) == 2  # the capture's "before" and "after" windows
    status, output = verify_cli(incident, capsys)
    assert status == 0
    last = json.loads(lines(incident)[-1])
    assert output == (
        f"{incident.name}: journal chain and evidence consistent ({len(lines(incident))} lines)\n"
        "no anchor given: lines cut from its end, or the whole journal written again with its "
        "hashes made anew, would read the same; check it against the anchor you kept "
        f"(aiir verify {incident.name} --anchor SEQ:HASH)\n"
        f"anchor: {last['seq']}:{last['hash']}\n"
    )


def test_every_line_is_chained_to_the_one_before(incident: Path) -> None:
    events = [json.loads(raw) for raw in lines(incident)]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(events))


# --- the journal itself ----------------------------------------------------------------------


def test_an_edited_line_is_named(incident: Path, capsys: pytest.CaptureFixture[str]) -> None:
    number = line_of(incident, "answer")
    edited = lines(incident)
    edited[number - 1] = edited[number - 1].replace(b'"value":"harmful"', b'"value":"nothing"')
    rewrite(incident, edited)

    assert verify(incident) == [f"line {number}: {EDITED}"]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert f"journal.jsonl: line {number}: {EDITED}" in output
    assert f"{incident.name}: TAMPERED or damaged (1 problem(s))" in output


def test_an_edited_line_with_its_hash_recomputed_breaks_the_next_line(incident: Path) -> None:
    number = line_of(incident, "lever.engaged")
    edited = lines(incident)
    record = json.loads(edited[number - 1])
    record["data"]["ok"] = False
    record["hash"] = chain_hash({k: v for k, v in record.items() if k != "hash"})
    edited[number - 1] = json.dumps(record).encode() + b"\n"
    rewrite(incident, edited)

    assert verify(incident) == [f"line {number + 1}: does not follow line {number} {OUT_OF_CHAIN}"]


def test_a_removed_line_is_named(incident: Path, capsys: pytest.CaptureFixture[str]) -> None:
    number = line_of(incident, "lever.intent")
    removed = lines(incident)
    del removed[number - 1]
    rewrite(incident, removed)

    assert verify(incident) == [
        f"line {number}: sequence number {number + 1} where {number} was expected "
        "(a line was removed, inserted or reordered)",
        f"line {number}: does not follow line {number - 1} {OUT_OF_CHAIN}",
    ]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert f"line {number}: does not follow line {number - 1}" in output


def test_removing_the_first_line_is_detected(incident: Path) -> None:
    rewrite(incident, lines(incident)[1:])
    problems = verify(incident)
    assert problems[0].startswith("line 1: sequence number 2 where 1 was expected")
    assert problems[1] == f"line 1: does not follow line 0 {OUT_OF_CHAIN}"


def test_a_journal_rechained_without_its_opening_line_is_named(incident: Path) -> None:
    """Renumbered and rehashed, the rest chains from the genesis: only its type gives it away."""
    rest = records(incident)[1:]
    for seq, record in enumerate(rest, start=1):
        record["seq"] = seq
    rewrite(incident, rechain(rest, 0))
    assert verify(incident) == [
        f"line 1: {rest[0]['type']} where incident.opened opens the journal"
    ]


def test_a_second_opening_line_rechained_in_is_named(incident: Path) -> None:
    events = records(incident)
    events.insert(3, {**events[0], "seq": 4})
    for seq, record in enumerate(events[4:], start=5):
        record["seq"] = seq
    rewrite(incident, rechain(events, 3))
    assert verify(incident) == ["line 4: incident.opened where the incident is open"]


def test_an_inserted_line_is_named(incident: Path) -> None:
    number = line_of(incident, "lever.engaged")
    inserted = lines(incident)
    inserted.insert(number, inserted[number - 1])  # the same event again, right after itself
    rewrite(incident, inserted)

    assert verify(incident) == [
        f"line {number + 1}: sequence number {number} where {number + 1} was expected "
        "(a line was removed, inserted or reordered)",
        f"line {number + 1}: does not follow line {number} {OUT_OF_CHAIN}",
    ]


def test_reordered_lines_are_named(incident: Path) -> None:
    number = line_of(incident, "lever.engaged")
    swapped = lines(incident)
    swapped[number - 1], swapped[number] = swapped[number], swapped[number - 1]
    rewrite(incident, swapped)

    problems = verify(incident)
    assert problems[0].startswith(f"line {number}: sequence number {number + 1} where {number}")
    assert f"line {number}: does not follow line {number - 1} {OUT_OF_CHAIN}" in problems
    assert f"line {number + 1}: does not follow line {number} {OUT_OF_CHAIN}" in problems
    assert all(
        p.startswith((f"line {number}:", f"line {number + 1}:", f"line {number + 2}:"))
        for p in problems
    )


def test_removing_the_last_lines_is_detected_with_an_anchor(incident: Path) -> None:
    head = json.loads(lines(incident)[-1])
    anchor = Anchor(head["seq"], head["hash"])
    assert verify(incident, [anchor]) == []
    rewrite(incident, lines(incident)[:-1])  # incident.ended: no file named by it is left over
    assert verify(incident) == []  # a chain alone cannot tell: it stopped there, or was cut
    assert verify(incident, [anchor]) == [
        f"anchor {anchor}: the journal has no line {head['seq']} (its last is line "
        f"{head['seq'] - 1}): lines were cut from its end"
    ]


def test_a_line_that_is_not_an_event_is_named(incident: Path) -> None:
    damaged = lines(incident)
    damaged[2] = b"{not json\n"
    rewrite(incident, damaged)
    assert verify(incident)[0] == "line 3: not a journal event (JSONDecodeError)"


def test_a_half_written_last_line_is_named(incident: Path) -> None:
    cut = lines(incident)
    cut[-1] = cut[-1][:40]
    rewrite(incident, cut)
    number = len(cut)
    assert verify(incident)[0] == (
        f"line {number}: incomplete (no end of line): the write was cut short"
    )


def test_a_line_being_appended_while_the_journal_is_read_is_waited_for_not_named(
    incident: Path,
) -> None:
    """A reader (``aiir verify``, ``show``, a resume's load) meets the end of a line a note or
    the walker is writing at that moment (a long line crosses a page: it lands in two parts).
    The writer holds the append lock while it writes: the reader waits for it."""
    whole = lines(incident)
    rewrite(incident, whole[:-1])
    fd = os.open(incident / APPENDING, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer, mid-append
    with open(incident / JOURNAL, "ab") as out:
        out.write(whole[-1][:40])

    def finish() -> None:
        time.sleep(0.3)
        with open(incident / JOURNAL, "ab") as out:
            out.write(whole[-1][40:])
        os.close(fd)  # the append is done: the lock is let go

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert verify(incident) == []
    finally:
        writer.join()
    assert lines(incident) == whole


def test_an_empty_journal_does_not_verify(incident: Path) -> None:
    rewrite(incident, [])
    assert verify(incident) == ["the journal has no events"]


def test_a_broken_chain_refuses_to_be_continued(incident: Path) -> None:
    damaged = lines(incident)
    del damaged[3]
    rewrite(incident, damaged)
    journal = Journal(incident, "tester", lambda: "", lambda text: text)
    with pytest.raises(JournalBroken, match="line 4: sequence number 5 where 4 was expected"):
        journal.load()


# --- evidence ----------------------------------------------------------------------------------


def test_a_changed_evidence_file_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = next(n for n in evidence_files(incident) if ".before." in n)
    (incident / name).write_bytes((incident / name).read_bytes() + b" ")
    number = line_of(incident, "capture.stored")

    assert verify(incident) == [f"evidence {name}: SHA-256 differs from line {number} (changed)"]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert f"evidence {name}: SHA-256 differs from line {number} (changed)" in output


def test_a_changed_file_named_only_as_a_bundle_is_named(incident: Path) -> None:
    """A capture's session-context bundle vouches for its file as its evidence does: a line
    that names a file only as ``bundle`` (rechained, so the chain holds) still has it checked."""
    name = next(n for n in evidence_files(incident) if ".before." in n)
    number = line_of(incident, "capture.stored")
    events = [json.loads(raw) for raw in lines(incident)]
    data = events[number - 1]["data"]
    data["bundle"] = data.pop("evidence")
    rewrite(incident, rechain(events, number - 1))
    assert verify(incident) == []
    (incident / name).write_bytes((incident / name).read_bytes() + b" ")
    assert verify(incident) == [f"evidence {name}: SHA-256 differs from line {number} (changed)"]


def test_a_missing_evidence_file_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = next(n for n in evidence_files(incident) if ".after." in n)
    (incident / name).unlink()
    number = max(i for i, raw in enumerate(lines(incident), start=1) if name.encode() in raw)

    assert verify(incident) == [f"evidence {name}: missing (named on line {number})"]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert f"evidence {name}: missing (named on line {number})" in output


# --- exit codes --------------------------------------------------------------------------------


def test_an_unknown_incident_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["verify", "INC-20260101-000000-dead", "--incident-dir", str(tmp_path)])
    assert status == 2
    assert "no incident 'INC-20260101-000000-dead'" in capsys.readouterr().err


def test_a_path_is_not_an_incident_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "../etc", "--incident-dir", str(tmp_path)]) == 2
    assert "'../etc' is not an incident id" in capsys.readouterr().err


# --- anchors: what a chain alone cannot tell -----------------------------------------------------


def records(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in lines(directory)]


def rechain(events: list[dict[str, Any]], start: int) -> list[bytes]:
    """The lines of ``events``, the chain recomputed from index ``start`` on, as a forger would."""
    prev = events[start - 1]["hash"] if start else GENESIS
    out = []
    for index, record in enumerate(events):
        if index >= start:
            record["prev"] = prev
            record["hash"] = chain_hash({k: v for k, v in record.items() if k != "hash"})
        prev = record["hash"]
        out.append(json.dumps(record).encode() + b"\n")
    return out


def head_anchor(directory: Path) -> str:
    last = records(directory)[-1]
    return f"{last['seq']}:{last['hash']}"


def test_a_forged_line_appended_with_its_hash_recomputed_is_not_covered_by_the_anchor(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anchor = head_anchor(incident)
    forged = records(incident)
    answer = {"runbook": "contain", "node": "triage", "key": "triage", "value": "nothing"}
    forged.append({**forged[-1], "seq": forged[-1]["seq"] + 1, "type": "answer", "data": answer})
    rewrite(incident, rechain(forged, len(forged) - 1))
    assert verify(incident) == []  # the chain holds: only the anchor can tell

    status, output = verify_cli(incident, capsys, "--anchor", anchor)
    assert status == 1
    assert (
        f"journal.jsonl: line {len(forged)}: not covered by the newest anchor given ({anchor}): "
        "they may have been added after it; pass the newest anchor you have (each walk prints "
        "one at its end)\n"
    ) in output


def test_a_journal_rewritten_from_an_earlier_line_on_fails_its_anchor(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anchor = head_anchor(incident)
    number = line_of(incident, "lever.engaged")
    forged = records(incident)
    forged[number - 1]["data"]["ok"] = False
    rewrite(incident, rechain(forged, number - 1))
    assert verify(incident) == []

    status, output = verify_cli(incident, capsys, "--anchor", anchor)
    seq = anchor.split(":")[0]
    assert status == 1
    assert f"anchor {anchor}: line {seq} has hash " in output
    assert f"not the anchored one: the journal was changed at or before line {seq}" in output


def test_anchors_from_a_file_of_several_incidents_verify(
    incident: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fifth = records(incident)[4]
    early = f"{fifth['seq']}:{fifth['hash'][:16]}"  # a prefix, as a Slack update shows it
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(
        "# anchors kept in the ticket\n"
        f"INC-20200101-000000-0000 3:{'a' * 64}\n"  # another incident's: skipped
        f"{incident.name} {early}\n"
        f"{head_anchor(incident)}  # the last Slack update\n\n"
    )
    status, output = verify_cli(incident, capsys, "--anchors", str(anchors))
    assert status == 0, output
    assert (
        f"anchors: 2 given, each matches; the newest ({head_anchor(incident)}) covers every line"
    ) in output


@pytest.mark.parametrize("bad", ["42", "x:abc", "0:" + "a" * 64, "3:" + "a" * 15, "3:" + "g" * 64])
def test_an_anchor_that_is_not_one_is_bad_input(
    bad: str, incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = verify_cli(incident, capsys, "--anchor", bad)
    assert (status, output) == (
        2,
        f"aiir: --anchor {bad!r}: not an anchor; expected SEQ:HASH as printed at the end of a "
        "walk (e.g. 42:3f9c...)\n",
    )


def test_a_bad_line_in_an_anchors_file_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(f"{head_anchor(incident)}\nnonsense\n")
    status, output = verify_cli(incident, capsys, "--anchors", str(anchors))
    assert status == 2
    assert output.startswith(f"aiir: {anchors}:2: 'nonsense': not an anchor; ")


def test_the_journal_names_its_own_anchor(incident: Path) -> None:
    journal = Journal(incident, "tester", lambda: "", lambda text: text)
    journal.load()
    assert journal.anchor() == head_anchor(incident)


# --- runbook copies ----------------------------------------------------------------------------


def test_the_runbook_copy_is_hashed_into_the_first_line(incident: Path) -> None:
    opened = records(incident)[0]["data"]
    copy = (incident / "runbooks" / "contain.yaml").read_bytes()
    assert opened["snapshot"] == "runbooks/contain.yaml"
    assert opened["snapshot_sha256"] == hashlib.sha256(copy).hexdigest()


def test_an_edited_runbook_copy_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = incident / "runbooks" / "contain.yaml"
    copy.write_bytes(copy.read_bytes() + b"# edited\n")
    problem = "runbook snapshot runbooks/contain.yaml: SHA-256 differs from line 1 (changed)"
    assert verify(incident) == [problem]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert problem in output


def _called(tmp_path: Path) -> Path:
    """An incident of a runbook that calls another: the callee's copy is hashed on call.entered."""
    parent = {
        "aiir": 1,
        "id": "parent",
        "title": "Hands off",
        "owner": "security",
        "severity": "SEV3",
        "start": "hand",
        "nodes": {
            "hand": {"kind": "call", "title": "Hand off", "runbook": "child", "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }
    child = {
        "aiir": 1,
        "id": "child",
        "title": "Called",
        "owner": "security",
        "severity": "SEV3",
        "start": "ok",
        "nodes": {
            "ok": {"kind": "confirm", "title": "OK?", "prompt": "OK?", "yes": "fin", "no": "fin"},
            "fin": {"kind": "end", "title": "Fine", "outcome": "resolved"},
        },
    }
    write_runbook(tmp_path, child, "child.yaml")
    path = write_runbook(tmp_path, parent, "parent.yaml")
    prompter = RecordingPrompter({"child.ok": True})
    with environment(tmp_path / "incidents", "http://127.0.0.1:9", prompter) as env:
        env.gateway_urls = {}  # these runbooks talk to no gateway
        return start(path, env).incident.directory


def test_a_called_runbooks_copy_is_hashed_into_call_entered_and_checked(tmp_path: Path) -> None:
    directory = _called(tmp_path)
    number = line_of(directory, "call.entered")
    entered = records(directory)[number - 1]["data"]
    copy = directory / "runbooks" / "child.yaml"
    assert entered["snapshot"] == "runbooks/child.yaml"
    assert entered["snapshot_sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert verify(directory) == []
    copy.write_bytes(copy.read_bytes().replace(b"Called", b"Edited"))
    assert verify(directory) == [
        f"runbook snapshot runbooks/child.yaml: SHA-256 differs from line {number} (changed)"
    ]


# --- odd shapes: well chained, not an aiir event -----------------------------------------------

Change = Callable[[dict[str, Any]], None]


def _drop(key: str) -> Change:
    return lambda record: record.pop(key)


def _set(key: str, value: Any) -> Change:
    return lambda record: record.update({key: value})


def _set_data(key: str, value: Any) -> Change:
    return lambda record: record["data"].update({key: value})


ODD: dict[str, tuple[str, Change, str]] = {
    "data is a list": ("answer", _set("data", [1, 2]), "data is a list, not an object"),
    "seq is text": ("answer", _set("seq", "2"), "seq is a string, not a number"),
    "seq is a boolean": ("answer", _set("seq", True), "seq is a boolean, not a number"),
    "step is text": ("answer", _set("step", "1"), "step is a string, not a number or null"),
    "ts is no time": ("answer", _set("ts", "yesterday"), "ts is 'yesterday', not an ISO-8601 time"),
    "operator is a number": ("answer", _set("operator", 7), "operator is a number, not a string"),
    "type is null": ("answer", _set("type", None), "type is null, not a string"),
    "an extra field": ("answer", _set("extra", 1), "unknown field 'extra'"),
    "no operator": ("answer", _drop("operator"), "no 'operator'"),
    "an answer without its value": (
        "answer",
        lambda r: r["data"].pop("value"),
        "answer without data.value",
    ),
    "a reply that is text": (
        "lever.engaged",
        _set_data("reply", "ok"),
        "lever.engaged data.reply is a string, not an object",
    ),
    "evidence outside the incident": (
        "capture.stored",
        lambda r: r["data"]["evidence"].update(file="../../../etc/passwd"),
        "capture.stored data.evidence is a record whose file is '../../../etc/passwd', "
        "not a file in the incident's evidence/",
    ),
    "facts that are numbers": (
        "classified",
        _set_data("facts", [1]),
        "classified data.facts is a list holding a number",
    ),
    "gateways that are not URLs": (
        "incident.opened",
        _set_data("gateways", {"gw": ["http://x"]}),
        "incident.opened data.gateways is an object holding a list",
    ),
    "an exercise that is not a name": (
        "incident.opened",
        _set_data("exercise", ["drill"]),
        "incident.opened data.exercise is a list, not a string or null",
    ),
    "a snapshot outside the incident": (
        "incident.opened",
        _set_data("snapshot", "/etc/passwd"),
        "incident.opened data.snapshot is '/etc/passwd', not a file in the incident's runbooks/",
    ),
}


def odd_journal(directory: Path, type_: str, change: Change) -> int:
    """The first event of ``type_`` changed, and the chain recomputed; returns its line."""
    events = records(directory)
    if type_ == "classified":  # the walk classifies nothing: give an answer's line facts
        type_ = "answer"
        change_first = change

        def change(record: dict[str, Any]) -> None:
            record["type"], record["data"] = "classified", {"facts": []}
            change_first(record)

    number = line_of(directory, type_)
    change(events[number - 1])
    rewrite(directory, rechain(events, number - 1))
    return number


@pytest.mark.parametrize("case", ODD)
def test_a_well_chained_line_of_an_odd_shape_is_not_an_aiir_event(
    case: str, incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    type_, change, why = ODD[case]
    number = odd_journal(incident, type_, change)
    assert verify(incident) == [f"line {number}: not an aiir event ({why})"]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert f"journal.jsonl: line {number}: not an aiir event ({why})\n" in output


def test_a_line_that_is_json_but_not_an_object_is_named(incident: Path) -> None:
    damaged = lines(incident)
    damaged[2] = b"[1, 2, 3]\n"
    rewrite(incident, damaged)
    assert verify(incident)[0] == "line 3: not an aiir event (a list, not an object)"


def test_a_deeply_nested_line_is_named_not_a_crash(incident: Path) -> None:
    damaged = lines(incident)
    damaged[2] = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    rewrite(incident, damaged)
    assert verify(incident)[0] == "line 3: not a journal event (RecursionError)"


# --- another writer ----------------------------------------------------------------------------


def _journal(directory: Path, operator: str) -> Journal:
    journal = Journal(directory, operator, lambda: "2026-11-27T03:15:00.000Z", lambda t: t)
    journal.load()
    return journal


def test_a_journal_written_by_another_process_meanwhile_is_never_forked(incident: Path) -> None:
    mine, theirs = _journal(incident, "me"), _journal(incident, "them")
    theirs.write("reminder", {"reason": "theirs"})
    theirs.close()
    before = (incident / JOURNAL).read_bytes()
    with pytest.raises(JournalConflict, match="another process wrote to this journal"):
        mine.write("reminder", {"reason": "mine"})
    mine.close()
    assert (incident / JOURNAL).read_bytes() == before
    assert verify(incident) == []  # one writer's line, no sequence number twice


def test_a_new_journal_never_appends_to_one_already_there(incident: Path) -> None:
    fresh = Journal(incident, "me", lambda: "2026-11-27T03:15:00.000Z", lambda t: t)
    with pytest.raises(JournalConflict):
        fresh.write("incident.opened", {"runbook": "x", "snapshot": "runbooks/x.yaml"})
    fresh.close()
    assert verify(incident) == []


class _Crowded:
    """A shared store whose head other machines' side events keep moving: the first appends
    are refused (HeadMoved), as a busy incident's store refuses them."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.appended: list[int] = []

    def put_file(self, relative: str, content: bytes) -> None:
        pass

    def append(self, event: Any, line: bytes) -> None:
        from aiir.incident.journal import HeadMoved

        if self.refusals:
            self.refusals -= 1
            raise HeadMoved("another responder wrote to it at the same moment")
        self.appended.append(event.seq)

    def written(self, event: Any, size: int) -> None:
        pass

    def fetch(self, head: Any) -> None:
        pass

    def fence(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_an_append_tries_again_while_side_events_keep_moving_the_head(tmp_path: Path) -> None:
    from aiir.incident.journal import HEAD_TRIES, HeadMoved, Journal

    crowded = _Crowded(refusals=HEAD_TRIES - 1)
    journal = Journal(tmp_path, "alice", lambda: "2026-12-03T00:00:00Z", str, upstream=crowded)
    journal.write("incident.noted", {"note": "third try lucky"})
    assert crowded.appended == [1]
    hopeless = Journal(
        tmp_path / "b", "bob", lambda: "2026-12-03T00:00:00Z", str, upstream=_Crowded(HEAD_TRIES)
    )
    (tmp_path / "b").mkdir()
    with pytest.raises(HeadMoved):
        hopeless.write("incident.noted", {"note": "never"})


def test_a_runbook_copy_is_never_left_in_part_under_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next walker takes a copy found there as it is (a called runbook's copy is kept
    once): a process that dies while writing one must leave nothing under its name."""
    real = os.fdopen

    class Dying:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Dying:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def fileno(self) -> int:
            return int(self.handle.fileno())

        def write(self, data: bytes) -> int:
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise KeyboardInterrupt  # the process dies halfway

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Dying(real(*a, **k)))
    journal = Journal(tmp_path, "me", lambda: "2026-11-27T03:15:00.000Z", lambda t: t)
    with pytest.raises(KeyboardInterrupt):
        journal.store_snapshot("called", b"id: called\n" * 1000)
    monkeypatch.setattr(os, "fdopen", real)
    assert not (tmp_path / "runbooks" / "called.yaml").exists()
    relative, digest = journal.store_snapshot("called", b"id: called\n" * 1000)
    assert (tmp_path / relative).read_bytes() == b"id: called\n" * 1000
    assert digest == hashlib.sha256(b"id: called\n" * 1000).hexdigest()


def test_a_full_disk_leaves_no_unfinished_line_and_says_so(
    incident: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk takes part of a line, then nothing (ENOSPC): the part is taken back, and
    the error is one line naming the journal, not an internal error."""
    before = (incident / JOURNAL).read_bytes()
    real = os

    class FullDisk:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def write(self, fd: int, data: bytes) -> int:
            return real.write(fd, data[: len(data) // 2])

    journal = _journal(incident, "me")
    monkeypatch.setattr("aiir.incident.journal.os", FullDisk())
    with pytest.raises(AiirError) as failed:
        journal.write("reminder", {"reason": "the disk is full"})
    monkeypatch.undo()
    journal.close()
    assert str(failed.value) == (
        f"{incident / JOURNAL}: cannot write the journal (No space left on device); this event "
        f"was not kept: make room, then aiir resume {incident.name}"
    )
    assert (incident / JOURNAL).read_bytes() == before
    assert verify(incident) == []


def test_a_note_cut_short_beside_a_walker_is_set_aside_and_the_walk_goes_on(
    incident: Path,
) -> None:
    """``aiir note`` killed while it writes a long note leaves its first pages; the walker's
    next event, under the append lock (nobody is mid-line then), sets them aside and says so,
    instead of stopping the walk as if another walker had written."""
    walker = _journal(incident, "alice")
    size = (incident / JOURNAL).stat().st_size
    fragment = b'{"data":{"by":"bob","text":"' + "中".encode() * 2000
    with open(incident / JOURNAL, "ab") as appended:
        appended.write(fragment)
    event = walker.write("reminder", {"reason": "the walk goes on"})
    (note,) = walker.take_foreign()
    walker.close()
    assert note.type == "note"
    assert f"set aside in evidence/journal-cut-at-{size}.part" in note.data["text"]
    assert (event.seq, event.prev) == (note.seq + 1, note.hash)
    assert (incident / "evidence" / f"journal-cut-at-{size}.part").read_bytes() == fragment
    assert verify(incident) == []
