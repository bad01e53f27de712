"""A text that quotes a reply is cut (an excerpt of its body, a reason of 200 or 300 characters)
and folded onto one line. Both change a secret the reply echoes: cut, its first part is left,
which no spelling of the whole matches; folded, a line break inside it becomes a space. So the
reply is masked first, then cut and folded."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx2

from aiir import redact
from aiir.outbound.gateway import Call
from aiir.outbound.notify import Notifier
from aiir.outbound.sending import Sender, judge
from aiir.respond.session import start
from tests.incidents import (
    ANSWERS,
    MASTER_KEY,
    RecordingPrompter,
    containment_runbook,
    environment,
    screen,
    write_runbook,
)
from tests.receiver import Answer, serve_receiver
from tests.servers import Fault, serve_gateway

EXCERPT = 2000  # what a lever's journalled reply keeps of the body


def longest_part(secret: str, data: str) -> int:
    """The length of the longest start of ``secret`` found in ``data``."""
    return max((k for k in range(1, len(secret) + 1) if secret[:k] in data), default=0)


def test_a_secret_across_the_cut_of_a_journalled_reply_leaves_no_part(tmp_path: Path) -> None:
    """The filter lever's engage reply echoes the master key where the excerpt is cut."""
    runbook = write_runbook(tmp_path, containment_runbook())
    start_of_body = '{"guardrail_id": "g-1", "note": "'
    pad = "x" * (EXCERPT - len(start_of_body) - 12)  # the cut falls 12 characters into the key
    body = f'{start_of_body}{pad}{MASTER_KEY}"}}'.encode()
    with serve_gateway() as (url, gateway):
        gateway.faults.append(Fault("/guardrails", 200, body, applied=True))
        with environment(tmp_path / "incidents", url, RecordingPrompter(ANSWERS)) as env:
            start(runbook, env)
            shown = screen(env)
    journal = next((tmp_path / "incidents").rglob("journal.jsonl")).read_text()
    assert "x" * 100 in journal  # the excerpt is there, up to the cut
    assert longest_part(MASTER_KEY, journal) < 4
    assert longest_part(MASTER_KEY, shown) < 4


def call() -> Call:
    return Call("gw", "POST", "http://127.0.0.1:9/kill", {}, {}, {}, None, 5.0, 0, None, {})


def test_a_reason_quoting_a_secret_with_a_line_break_masks_it_before_folding_it() -> None:
    secret = f"-----BEGIN KEY-----\n{secrets.token_hex(8)}\n-----END KEY-----"
    body = json.dumps({"error": {"message": f"bad key {secret}"}}).encode()
    clean = redact.masker([secret], patterns=False)
    reply = judge(call(), 401, {}, body, len(body), clean)
    assert reply.reason == "status 401, expected 2xx: bad key ***"
    plain = b"bad key " + secret.encode()
    assert judge(call(), 500, {}, plain, len(plain), clean).reason.endswith("bad key ***")


def test_the_sender_gives_its_replies_its_masking() -> None:
    secret = f"k-{secrets.token_hex(10)}"
    with serve_gateway() as (url, gateway):
        body = ("y" * 1990 + secret).encode()
        gateway.faults.append(Fault("/kill", 200, body))
        the_call = Call("gw", "POST", f"{url}/kill", {}, {}, {}, None, 5.0, 0, None, {})
        with httpx2.Client() as client:
            sender = Sender(client, lambda _s: None, clean=redact.masker([secret]))
            reply = sender.send(the_call)
    assert reply.summary()["body"] == "y" * 1990 + "***"
    assert secret[:4] not in reply.excerpt(1995)


def test_a_message_receiver_echoing_its_url_across_the_cut_leaves_no_part() -> None:
    with serve_receiver() as receiver:
        hook = f"{receiver.url}/hooks/h{secrets.token_hex(12)}"
        pad = "z " * ((200 - len(hook) + 12) // 2)  # folded, the cut at 200 falls in the token
        echoed = (pad + hook).encode()
        receiver.queue("/hooks/" + hook.rsplit("/hooks/", 1)[1], Answer(400, echoed))
        with httpx2.Client(trust_env=False) as client:
            delivery = Notifier(client, lambda _s: None, {}).webhook(hook, {"text": "hi"})
    assert not delivery.ok
    token = hook.rsplit("/", 1)[1]
    assert longest_part(token, delivery.reason) < 4, delivery.reason
    assert longest_part(token, delivery.reply) < 4, delivery.reply


class DetailsReader(RecordingPrompter):
    """Says yes to every lever, after reading the details (``d``) of each."""

    def __init__(self) -> None:
        super().__init__(ANSWERS)
        self.details: list[str] = []

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        if details is not None:
            self.details.append(details)
            return True
        return super().confirm(key, message, default, details)


def test_the_details_of_a_request_shown_at_its_question_are_masked(tmp_path: Path) -> None:
    """``d`` at a lever's question prints the whole request: a secret in a header that is not
    one of the known credential headers is masked there as everywhere."""
    data = containment_runbook()
    data["levers"]["filter"]["engage"]["headers"] = {"X-Admin": "{{ env.LITELLM_MASTER_KEY }}"}
    runbook = write_runbook(tmp_path, data)
    reader = DetailsReader()
    with (
        serve_gateway() as (url, gateway),
        environment(tmp_path / "incidents", url, reader) as env,
    ):
        env.assume_yes = False
        start(runbook, env)
    assert gateway.calls[1][3]["x-admin"] == MASTER_KEY  # sent as it is
    assert reader.details
    assert '"X-Admin": "***"' in reader.details[0]
    assert not any(MASTER_KEY in shown for shown in reader.details)


def test_a_failed_reply_shown_on_screen_is_masked_before_it_is_cut(tmp_path: Path) -> None:
    """The screen shows the first 500 characters of a failed reply's body."""
    runbook = write_runbook(tmp_path, containment_runbook())
    body = ("e" * (500 - 12) + MASTER_KEY).encode()  # the cut falls 12 characters into the key
    with serve_gateway() as (url, gateway):
        gateway.faults.append(Fault("/spend/logs", 400, body))
        with environment(tmp_path / "incidents", url, RecordingPrompter(ANSWERS)) as env:
            start(runbook, env)
            shown = screen(env)
    assert "e" * 100 in shown
    assert longest_part(MASTER_KEY, shown.replace("\n", "")) < 4
