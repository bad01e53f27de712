"""A secret a template transforms (``{{ env.API_KEY | upper }}``, ``| reverse``, ``[:-1]``,
``| replace``, ``~``, ``| list | join``) is a spelling no encoding of the secret gives: it reached
the screen and the journal as it was made. What a template computes from a secret is masked
like the secret; a gateway still gets what the runbook says to send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiir import redact
from aiir.formats.templating import evaluate, render
from tests.helpers import write
from tests.servers import serve_echo
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
KEY = "abCd-Ef12-gh34-ij56-Kl78"

FORMS = {
    "upper": "{{ env.UPSTREAM | upper }}",
    "lower": "{{ env.UPSTREAM | lower }}",
    "title": "{{ env.UPSTREAM | title }}",
    "capitalize": "{{ env.UPSTREAM | capitalize }}",
    "reverse": "{{ env.UPSTREAM | reverse }}",
    "slice": "{{ env.UPSTREAM[:-1] }}",
    "tail": "{{ env.UPSTREAM[2:] }}",
    "method": "{{ env.UPSTREAM.swapcase() }}",
    "replace": "{{ env.UPSTREAM | replace('-', '') }}",
    "replace-longer": "{{ env.UPSTREAM | replace('-', ' --- ') }}",
    "joined": "{{ env.UPSTREAM | list | join(',') }}",
    "spaced": "{{ env.UPSTREAM | list | join(' ') }}",
    "concat": "{{ 'k=' ~ (env.UPSTREAM | upper) ~ ';' }}",
    "urlencode-upper": "{{ env.UPSTREAM | upper | urlencode }}",
    "center": "{{ env.UPSTREAM | lower | center(40) }}",
    "format": "{{ '%s!' | format(env.UPSTREAM | title) }}",
}


def _leaks(text: str) -> list[str]:
    """The transformed spellings of KEY in ``text`` (case, order and separators ignored)."""
    folded = "".join(c for c in text.lower() if c.isalnum())
    plain = "".join(c for c in KEY.lower() if c.isalnum())
    return [form for form in (plain, plain[::-1], plain[2:-2]) if form in folded]


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    redact.forget()
    yield
    redact.forget()


@pytest.mark.parametrize("form", sorted(FORMS))
def test_text_a_template_computes_from_a_secret_is_masked(form: str) -> None:
    redact.declare([KEY])
    made = render(f"[{form}] {FORMS[form]} done", {"env": {"UPSTREAM": KEY}}, "test")
    assert _leaks(made)  # made as the template says: a request sends it so
    shown = redact.masker(set(), patterns=False)(made)
    assert not _leaks(shown), shown
    assert shown.startswith(f"[{form}] ")  # the rest is kept
    assert shown.endswith(" done")
    assert not _leaks(redact.scrub(made))


def test_a_value_set_from_a_secret_is_masked_and_so_is_what_is_made_of_it() -> None:
    redact.declare([KEY])
    upper = evaluate("env.UPSTREAM | upper", {"env": {"UPSTREAM": KEY}}, "test")
    assert upper == KEY.upper()
    again = render("{{ vars.k | reverse }}", {"vars": {"k": upper}}, "test")  # no env in sight
    mask = redact.masker(set(), patterns=False)
    assert mask(upper) == redact.MASK
    assert mask(again) == redact.MASK


def test_what_does_not_depend_on_the_secret_is_not_masked() -> None:
    redact.declare([KEY])
    context = {"env": {"UPSTREAM": KEY, "MODEL": "support-bot-model"}}
    made = render(
        "{{ env.UPSTREAM | length }} {{ env.MODEL | upper }} {{ 'set' if env.UPSTREAM else 'unset' }}",
        context,
        "test",
    )
    assert redact.masker(set(), patterns=False)(made) == f"{len(KEY)} SUPPORT-BOT-MODEL set"
    assert not redact.known_secrets() - {KEY}


def test_no_secret_declared_no_second_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("rendered twice")

    monkeypatch.setattr("aiir.formats.taint.derive", refuse)
    assert render("{{ env.X | upper }}", {"env": {"X": "abcdefgh"}}, "t") == "ABCDEFGH"


def _runbook() -> dict[str, Any]:
    message = " ".join(f"{name}={source}" for name, source in sorted(FORMS.items()))
    return {
        "aiir": 1,
        "id": "derived",
        "title": "A secret made over by a template",
        "owner": "security",
        "severity": "SEV3",
        "tags": {"owasp": ["LLM02:2025"]},
        "env": {"UPSTREAM": {"description": "the upstream key"}},
        "gateways": {
            "gw": {
                "profile": "http",
                "url": "http://127.0.0.1:9",
                "headers": {"X-Upstream-Shape": "{{ env.UPSTREAM | upper }}"},
            }
        },
        "start": "note",
        "nodes": {
            "note": {
                "kind": "notify",
                "title": "Note",
                "channel": "record",
                "message": message,
                "next": "calc",
            },
            "calc": {
                "kind": "set",
                "title": "Calc",
                "values": {"shape": "env.UPSTREAM | reverse", "size": "env.UPSTREAM | length"},
                "next": "capture",
            },
            "capture": {
                "kind": "capture",
                "title": "Capture",
                "items": [
                    {
                        "name": "echo",
                        "what": ["gateway-state"],
                        "request": {
                            "method": "POST",
                            "path": "/echo",
                            "json": {"shape": "{{ vars.shape | lower }}"},
                        },
                    }
                ],
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def test_a_walk_never_shows_nor_keeps_a_secret_a_template_made_over(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    monkeypatch.setenv("UPSTREAM", KEY)
    runbook = tmp_path / "derived.yaml"
    write(runbook, _runbook())
    incidents = tmp_path / "incidents"
    with serve_echo() as (url, heard):
        ran = run_cli(
            capsys, "run", str(runbook), "--gateway", f"gw={url}", "--yes",
            "--incident-dir", str(incidents),
        )  # fmt: skip
    assert ran.status == 0, ran.err
    assert heard[0].headers["x-upstream-shape"] == KEY.upper()  # sent as the runbook says
    assert KEY[::-1].lower() in heard[0].body.decode()
    [incident] = [p.name for p in incidents.iterdir()]
    shown = run_cli(capsys, "show", incident, "--json", "--incident-dir", str(incidents))
    report = run_cli(capsys, "report", incident, "--incident-dir", str(incidents))
    verified = run_cli(capsys, "verify", incident, "--incident-dir", str(incidents))
    assert verified.status == 0, verified.out + verified.err
    written = {
        str(p): p.read_text()
        for p in incidents.rglob("*")
        if p.is_file() and "/runbooks/" not in str(p)
    }
    assert any("/evidence/" in name for name in written)
    outputs = {"run": ran.out + ran.err, "show": shown.out, "report": report.out}
    for where, text in {**outputs, **written}.items():
        assert not _leaks(text), (where, _leaks(text))
    assert "size = 24" in ran.out  # what the secret does not make is kept


@pytest.mark.parametrize(
    "source",
    [
        "{{ {} [env.UPSTREAM | upper] }}",  # 'dict object' has no attribute 'ABCD-…'
        "{{ {}.get(env.UPSTREAM | reverse).x }}",
        "{{ (env.UPSTREAM | lower) | int + {}[env.UPSTREAM | title] }}",
    ],
)
def test_an_error_quoting_what_a_template_made_of_a_secret_masks_it(source: str) -> None:
    from aiir.formats.templating import TemplateFailure

    redact.declare([KEY])
    with pytest.raises(TemplateFailure) as failed:
        render(source, {"env": {"UPSTREAM": KEY}}, "nodes.n.message")
    said = redact.scrub(str(failed.value))
    assert said.startswith("nodes.n.message: template error: ")
    assert not _leaks(said), said


def test_a_long_error_is_masked_before_it_is_cut() -> None:
    from aiir.formats.templating import TemplateFailure

    redact.declare([KEY])
    source = "{{ {}.pop('" + "x" * 180 + "' ~ env.UPSTREAM) }}"  # KeyError: 'xx…KEY'
    with pytest.raises(TemplateFailure) as failed:
        render(source, {"env": {"UPSTREAM": KEY}}, "n")
    assert KEY[:6] not in str(failed.value)


def test_a_resumed_walk_sends_a_value_set_from_a_secret_as_it_was_made(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal keeps the set value masked; a resume works it out again, and does not send
    the mask in its place."""
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    monkeypatch.setenv("UPSTREAM", KEY)
    runbook = _runbook()
    runbook["start"] = "calc"
    runbook["nodes"]["calc"]["next"] = "ask"
    runbook["nodes"]["ask"] = {
        "kind": "confirm", "title": "Go on?", "prompt": "Go on?", "yes": "capture", "no": "done",
    }  # fmt: skip
    write(tmp_path / "r.yaml", runbook)
    write(tmp_path / "answers.yaml", {"ask": True})
    where = ("--incident-dir", str(tmp_path / "incidents"))
    with serve_echo() as (url, heard):
        stopped = run_cli(capsys, "run", str(tmp_path / "r.yaml"), "--gateway", f"gw={url}", *where)
        assert stopped.status != 0
        assert not heard
        [incident] = [p.name for p in (tmp_path / "incidents").iterdir()]
        resumed = run_cli(
            capsys, "resume", incident, "--gateway", f"gw={url}", "--yes",
            "--answers", str(tmp_path / "answers.yaml"), *where,
        )  # fmt: skip
    assert resumed.status == 0, resumed.err
    assert KEY[::-1].lower() in heard[0].body.decode()
    journal = (tmp_path / "incidents" / incident / "journal.jsonl").read_text()
    assert not _leaks(journal + resumed.out + resumed.err)


@pytest.mark.parametrize(
    "source",
    [
        "{{ vars.out }} {{ env.UPSTREAM | upper }} {{ vars.out }}",
        "{{ vars.out }}{% if env.UPSTREAM.startswith('ab') %}{{ env.UPSTREAM | reverse }}"
        "{% endif %}{{ vars.out }}",  # of another length with the stand-in
    ],
)
def test_a_huge_value_beside_a_secret_is_compared_in_no_time(source: str) -> None:
    """A model's output of megabytes in the same message: the renderings are compared where
    they differ, not as a whole (a matcher's time grows as the product of their lengths)."""
    import time

    redact.declare([KEY])
    huge = "model said: " + "lorem ipsum " * 200_000
    started = time.process_time()
    made = render(source, {"env": {"UPSTREAM": KEY}, "vars": {"out": huge}}, "t")
    shown = redact.masker(set(), patterns=False)(made)
    assert time.process_time() - started < 5
    assert not _leaks(shown)
    assert shown.startswith(huge)
    assert shown.endswith(huge)


def test_a_long_text_made_from_a_secret_is_masked_as_it_is() -> None:
    redact.declare([KEY])
    made = render("{{ (env.UPSTREAM | upper) * 20000 }}", {"env": {"UPSTREAM": KEY}}, "t")
    assert len(made) > redact.MAX_SPELLED
    assert redact.masker(set(), patterns=False)(f"[{made}]") == "[***]"


def test_a_gateway_header_made_over_from_a_mounted_secret_is_masked(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret read from a mounted file ends in a newline; the gateway's headers are made
    before the walk's secrets are worked out, and the value they read (stripped) was not yet
    declared: the header made over from it was kept as it was made."""
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    monkeypatch.setenv("UPSTREAM", KEY + "\n")
    runbook = _runbook()
    runbook["nodes"]["note"]["message"] = "nothing secret"
    write(tmp_path / "r.yaml", runbook)
    incidents = tmp_path / "incidents"
    with serve_echo() as (url, heard):
        ran = run_cli(capsys, "run", str(tmp_path / "r.yaml"), "--gateway", f"gw={url}",
                      "--yes", "--incident-dir", str(incidents))  # fmt: skip
    assert ran.status == 0, ran.err
    assert heard[0].headers["x-upstream-shape"] == KEY.upper()
    written = "".join(p.read_text() for p in incidents.rglob("*") if p.is_file())
    assert not _leaks(ran.out + ran.err + written)


@pytest.mark.parametrize(
    "secret", ["!@#$%^&*()_+{}", "Пароль-Secret-Ключ-42"], ids=["punctuation", "cyrillic"]
)
def test_a_secret_with_no_ascii_letter_to_change_is_followed_too(secret: str) -> None:
    redact.declare([secret])
    made = render("x {{ env.K | reverse }} + {{ env.K | upper }} y", {"env": {"K": secret}}, "t")
    assert redact.masker(set(), patterns=False)(made) == "x *** y"  # one run: a separator between
