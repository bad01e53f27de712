"""Sending a suite's prompts: asynchronous, at most ``concurrency`` requests in flight.

Every reply is judged as soon as it arrives. A reply that is not a chat completion (an error
status, no answer in time, a body of another shape) is a failed sample with its reason; it is
never judged as if it were an output. A 429 or 5xx that names a ``Retry-After`` is retried after
that long (capped as a gateway call's is), and a wait of a second or more is announced.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from aiir.canary.assertions import Verdict, is_refusal, judge
from aiir.canary.suite import LoadedSuite, Target, system_message
from aiir.formats import received
from aiir.formats.canary import CanaryPrompt
from aiir.outbound.sending import retry_after_seconds
from aiir.outbound.userinfo import URL_USERINFO
from aiir.redact import scrub
from aiir.terminal.inert import plain

MAX_BACKOFF = 5.0
MAX_REPLY = 4 * 1024 * 1024  # bytes of a chat completion read; a longer reply is a failure
EXCERPT = 300


@dataclass(repr=False)  # asyncio may repr a list of thousands of these: keep it cheap
class Sample:
    """One reply to one prompt, and the verdict of each of the prompt's assertions."""

    prompt: CanaryPrompt
    repeat: int
    output: str = ""
    latency_ms: float = 0.0
    status: int | None = None
    error: str | None = None
    logprob: float | None = None
    model: str | None = None  # the model the reply names
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and all(v.ok for v in self.verdicts)

    @property
    def refused(self) -> bool:
        return self.error is None and is_refusal(self.output)


@dataclass(frozen=True, repr=False)
class _Job:
    prompt: CanaryPrompt
    repeat: int
    body: bytes
    secrets: frozenset[str]  # masked in what an error quotes of a reply, before it is cut


async def send_all(
    loaded: LoadedSuite,
    target: Target,
    token: str | None,
    client: httpx2.AsyncClient,
    tick: Callable[[], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> list[Sample]:
    """Every prompt, ``repeats`` times each, through ``client``; samples in suite order.

    ``client`` carries the target's headers and the suite's timeout; ``on_wait`` is told before
    each wait of a second or more between tries.
    """
    suite = loaded.suite
    secrets = target.secrets | frozenset([token] if token else [])
    jobs = [
        _Job(prompt, repeat, _body(loaded, prompt, token), secrets)
        for prompt in suite.prompts
        for repeat in range(prompt.repeats or suite.repeats)
    ]
    samples: list[Sample | None] = [None] * len(jobs)
    queue = iter(enumerate(jobs))

    async def worker() -> None:
        for index, job in queue:  # one shared iterator: each job is taken once
            sample = await _ask(client, target.url, job, suite.timeout, suite.retries, on_wait)
            if sample.error is None:
                sample.verdicts = [
                    judge(check, sample.output, sample.latency_ms, token)
                    for check in job.prompt.assert_
                ]
            samples[index] = sample
            if tick is not None:
                tick()

    await asyncio.gather(*(worker() for _ in range(min(suite.concurrency, len(jobs)))))
    return [s for s in samples if s is not None]


def _body(loaded: LoadedSuite, prompt: CanaryPrompt, token: str | None) -> bytes:
    suite = loaded.suite
    messages = []
    system = system_message(suite, token)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt.prompt})
    body: dict[str, Any] = {**suite.target.params, "model": suite.target.model}
    body["messages"] = messages
    if suite.logprobs:
        body["logprobs"] = True
    return json.dumps(body, ensure_ascii=False).encode()


async def _ask(
    client: httpx2.AsyncClient,
    url: str,
    job: _Job,
    timeout: float,
    retries: int,
    on_wait: Callable[[str], None] | None = None,
) -> Sample:
    attempt = 0
    while True:
        sample, retry, asked = await _attempt(client, url, job, timeout)
        if not retry or attempt >= retries:
            return sample
        attempt += 1
        wait = asked if asked > 0 else min(0.5 * 2 ** (attempt - 1), MAX_BACKOFF)
        if wait >= 1 and on_wait is not None:
            why = "as the gateway asked (Retry-After)" if asked > 0 else "before retrying"
            said = f"HTTP {sample.status}" if sample.status is not None else sample.error
            on_wait(
                f"{job.prompt.id}: {said}; waiting {wait:g} s {why}, "
                f"then try {attempt + 1} of {retries + 1}"
            )
        await asyncio.sleep(wait)


async def _attempt(
    client: httpx2.AsyncClient, url: str, job: _Job, timeout: float
) -> tuple[Sample, bool, float]:
    """One try: the sample, whether to try again, and after how long the gateway asked."""
    sample = Sample(job.prompt, job.repeat)
    started = time.perf_counter()
    try:
        # The timeout holds the whole reply: the client's own is per read, and a gateway
        # dripping a byte at a time never lets one run out.
        async with asyncio.timeout(timeout):
            async with client.stream("POST", url, content=job.body, auth=URL_USERINFO) as response:
                content = await _content(response)
    except (TimeoutError, httpx2.TimeoutException):
        sample.error = f"no reply within {timeout:g} s"
        return sample, True, 0.0
    except httpx2.TransportError as exc:
        sample.error = f"connection failed: {(str(exc) or type(exc).__name__).splitlines()[0]}"
        return sample, True, 0.0
    sample.latency_ms = (time.perf_counter() - started) * 1000
    sample.status = status = response.status_code
    text = (content or b"").decode("utf-8", errors="replace")
    if not 200 <= status < 300:
        sample.error = f"HTTP {status}: {_excerpt(text, job.secrets)}"
        if status == 429 or status >= 500:
            return sample, True, retry_after_seconds(response.headers.get("retry-after"))
        return sample, False, 0.0
    if content is None:
        sample.error = f"reply is over {MAX_REPLY} bytes: not read, not judged"
        return sample, False, 0.0
    _read(sample, content, job.secrets)
    return sample, False, 0.0


async def _content(response: httpx2.Response) -> bytes | None:
    """The reply's body, or None once it passes :data:`MAX_REPLY` (the rest is not read)."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        if len(kept) + len(chunk) > MAX_REPLY:
            return None
        kept.extend(chunk)
    return bytes(kept)


def _read(sample: Sample, content: bytes, secrets: frozenset[str]) -> None:
    """Output and mean token log-probability of an OpenAI chat completion."""
    try:
        reply = received.loads(content)
        choice = reply["choices"][0]
        text = choice["message"].get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        text = content.decode(errors="replace")
        sample.error = f"reply is not a chat completion: {_excerpt(text, secrets)}"
        return
    sample.output = text if isinstance(text, str) else ""
    model = reply.get("model")
    if isinstance(model, str) and model:
        sample.model = model[:256]
    tokens = (choice.get("logprobs") or {}).get("content") if isinstance(choice, dict) else None
    values = [t["logprob"] for t in tokens or [] if isinstance(t, dict) and "logprob" in t]
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    if numbers:
        sample.logprob = sum(numbers) / len(numbers)


def _excerpt(text: str, secrets: frozenset[str]) -> str:
    """``text`` on one line, cut to :data:`EXCERPT`: ``secrets`` masked first (cut or folded, a
    secret is in no spelling that masking finds)."""
    flat = " ".join(plain(scrub(text, secrets, patterns=False)).split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"
