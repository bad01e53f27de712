"""Measuring a rule's number: a PromQL instant query, or the spans of a trace store's window.

Every read is one request (a trace rule pages through its window), with the source's timeout and
no retry: the next evaluation is the retry. Whatever goes wrong (no answer, a refused query, a
reply that is not what the API returns) is a :class:`Measured` with an ``error``, never a
number: a rule that could not be evaluated neither fires nor recovers.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from aiir.formats import received
from aiir.formats.detect import DetectRule, Measure, PhoenixSource, PrometheusSource, TraceMeasure
from aiir.formats.timers import span
from aiir.outbound.userinfo import URL_USERINFO
from aiir.redact import declare, known_secrets, scrub, url_credentials
from aiir.timestamps import iso

MAX_BODY = 16 * 1024 * 1024  # a reply larger than this is not a page of metrics or spans
MAX_SAMPLES = 50  # kept per rule in the history and the evidence
SPAN_PAGE = 1000  # Phoenix's largest page of spans
ANNOTATION_BATCH = 100  # span ids per annotations request (they go in the query string)
MAX_ERROR = 400  # characters of why a source said nothing (cut after masking: a secret across
# the cut would leave a part no spelling of it matches)


def finite(value: float | None) -> float | str | None:
    """A value JSON can carry: Prometheus's ``+Inf`` and ``-Inf`` as those strings."""
    if value is None or math.isfinite(value):
        return value
    return "+Inf" if value > 0 else "-Inf"


class SourceError(Exception):
    """A source did not answer with what its API returns."""


@dataclass(frozen=True)
class Sample:
    """One number a query returned, with the labels that say what it measures."""

    labels: dict[str, str]
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "value": finite(self.value)}

    @property
    def name(self) -> str:
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return "{" + inner + "}"


@dataclass(frozen=True)
class Measured:
    """What a rule's source said: its samples (none: no data), or why it said nothing."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    note: str = ""  # e.g. "3 of 40 annotated spans", "8 spans (fewer than min_spans 10)"


def prometheus(client: httpx2.Client, source: PrometheusSource, query: str) -> Measured:
    """An instant query through ``/api/v1/query``; NaN samples are no data."""
    url = source.url.rstrip("/") + "/api/v1/query"
    try:
        body = _get(client, url, {"query": query}, {}, source.timeout)
        samples = [s for s in _vector(body) if not math.isnan(s.value)]
    except SourceError as exc:
        return Measured(error=f"Prometheus: {exc}")
    return Measured(samples)


def _vector(body: Any) -> list[Sample]:
    if not isinstance(body, dict) or body.get("status") != "success":
        raise SourceError("the reply is not a query result")
    data = body.get("data")
    if not isinstance(data, dict):
        raise SourceError("the reply has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Sample({}, _number(result))]
    if kind != "vector" or not isinstance(result, list):
        raise SourceError(f"the query returned a {kind}, not an instant vector or a scalar")
    samples = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            raise SourceError("a sample of the result has no labels")
        labels = {str(k): str(v) for k, v in item["metric"].items()}
        samples.append(Sample(labels, _number(item.get("value"))))
    return samples


def _number(pair: Any) -> float:
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        raise SourceError("a sample is not [time, value]")
    try:
        return float(pair[1])
    except ValueError:
        raise SourceError(f"a sample's value {pair[1][:40]!r} is not a number") from None


def phoenix(
    client: httpx2.Client,
    source: PhoenixSource,
    measure: TraceMeasure,
    now: dt.datetime,
    environ: Mapping[str, str],
) -> Measured:
    """One number from the spans of the window that ends ``now``."""
    headers = {}
    key = environ.get(source.api_key_env, "").strip() if source.api_key_env else ""
    if key:
        declare([key])
        headers["authorization"] = f"Bearer {key}"
    try:
        spans = list(_spans(client, source, measure, now, headers))
        if measure.measure is Measure.ANNOTATION_RATE:
            return _annotation_rate(client, source, measure, spans, headers)
        if len(spans) < measure.min_spans:
            return Measured(note=_too_few(len(spans), "spans", measure))
        if measure.measure is Measure.ERROR_RATE:
            errors = sum(1 for s in spans if s.get("status_code") == "ERROR")
            return Measured(
                [Sample({}, errors / len(spans))], note=f"{errors} of {len(spans)} spans"
            )
        return _latency(spans, measure)
    except SourceError as exc:  # a server echoing the request back must not show the key
        return Measured(error=scrub(f"Phoenix: {exc}", [key] if key else []))


def _spans(
    client: httpx2.Client,
    source: PhoenixSource,
    measure: TraceMeasure,
    now: dt.datetime,
    headers: dict[str, str],
) -> Iterator[dict[str, Any]]:
    url = f"{source.url.rstrip('/')}/v1/projects/{source.project}/spans"
    params = {
        "start_time": iso(now - span(measure.window)),
        "end_time": iso(now),
        "limit": str(min(SPAN_PAGE, measure.max_spans)),
    }
    if measure.span_kind:
        params["span_kind"] = measure.span_kind
    read = 0
    while read < measure.max_spans:
        body = _get(client, url, params, headers, source.timeout, missing_ok=True)
        if body is None:  # no such project: nothing was ever written to it
            return
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise SourceError("the reply is not a page of spans ({data: [...]})")
        for item in body["data"][: measure.max_spans - read]:
            if isinstance(item, dict):
                read += 1
                yield item
        cursor = body.get("next_cursor")
        if not isinstance(cursor, str) or not cursor:
            return
        params["cursor"] = cursor


def _annotation_rate(
    client: httpx2.Client,
    source: PhoenixSource,
    measure: TraceMeasure,
    spans: list[dict[str, Any]],
    headers: dict[str, str],
) -> Measured:
    ids = [_span_id(s) for s in spans]
    labels = _labels(client, source, measure, [i for i in ids if i], headers)
    if len(labels) < measure.min_spans:
        return Measured(
            note=_too_few(len(labels), f"spans annotated {measure.annotation}", measure)
        )
    hits = sum(1 for label in labels.values() if label in measure.labels)
    note = (
        f"{hits} of {len(labels)} spans annotated {measure.annotation}: {'/'.join(measure.labels)}"
    )
    return Measured(
        [Sample({"annotation": str(measure.annotation)}, hits / len(labels))], note=note
    )


def _labels(
    client: httpx2.Client,
    source: PhoenixSource,
    measure: TraceMeasure,
    ids: list[str],
    headers: dict[str, str],
) -> dict[str, str | None]:
    """Each annotated span's label for the rule's annotation (the latest, if several)."""
    url = f"{source.url.rstrip('/')}/v1/projects/{source.project}/span_annotations"
    found: dict[str, str | None] = {}
    for start in range(0, len(ids), ANNOTATION_BATCH):
        params: dict[str, Any] = {
            "span_ids": ids[start : start + ANNOTATION_BATCH],
            "include_annotation_names": [measure.annotation],
            "limit": "10000",
        }
        body = _get(client, url, params, headers, source.timeout)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise SourceError("the reply is not a page of span annotations ({data: [...]})")
        for item in body["data"]:
            if isinstance(item, dict) and item.get("name") == measure.annotation:
                result = item.get("result") if isinstance(item.get("result"), dict) else {}
                label = result.get("label") if isinstance(result, dict) else None
                found[str(item.get("span_id"))] = label if isinstance(label, str) else None
    return found


def _latency(spans: list[dict[str, Any]], measure: TraceMeasure) -> Measured:
    durations = sorted(d for d in (_duration_ms(s) for s in spans) if d is not None)
    if len(durations) < measure.min_spans:
        return Measured(note=_too_few(len(durations), "timed spans", measure))
    rank = max(0, math.ceil(measure.percentile / 100 * len(durations)) - 1)
    value = durations[rank]
    note = f"p{measure.percentile:g} of {len(durations)} spans: {value:.0f} ms"
    return Measured([Sample({"percentile": f"{measure.percentile:g}"}, value)], note=note)


def _duration_ms(item: dict[str, Any]) -> float | None:
    try:
        start = dt.datetime.fromisoformat(str(item["start_time"]))
        end = dt.datetime.fromisoformat(str(item["end_time"]))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds() * 1000


def _span_id(item: dict[str, Any]) -> str | None:
    context = item.get("context")
    span_id = context.get("span_id") if isinstance(context, dict) else None
    return span_id if isinstance(span_id, str) and span_id else None


def _too_few(count: int, what: str, measure: TraceMeasure) -> str:
    return f"{count} {what} in the last {measure.window} (fewer than min_spans {measure.min_spans})"


def _get(
    client: httpx2.Client,
    url: str,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout: float,
    *,
    missing_ok: bool = False,
) -> Any:
    """The JSON of a GET, read up to :data:`MAX_BODY`; None for a 404 when ``missing_ok``."""
    try:
        with client.stream(
            "GET", url, params=params, headers=headers, timeout=timeout, auth=URL_USERINFO
        ) as reply:
            if reply.status_code == 404 and missing_ok:
                return None
            body = _read(reply, time.monotonic() + timeout)
    except httpx2.TimeoutException:
        raise SourceError(f"no answer within {timeout:g} s") from None
    except httpx2.HTTPError as exc:
        raise SourceError(f"could not reach it ({type(exc).__name__})") from None
    except httpx2.InvalidURL:  # its error quotes the URL's pieces (a password's, as the port)
        raise SourceError(
            "its URL is not valid (a '/', '?', '#' or '@' inside a password must be "
            "percent-encoded: %2F, %3F, %23, %40)"
        ) from None
    if reply.status_code != 200:
        raise SourceError(f"HTTP {reply.status_code}{_reason(body)}")
    try:
        return received.loads(body)
    except ValueError:
        raise SourceError("the reply is not JSON") from None


def _read(reply: httpx2.Response, deadline: float) -> bytes:
    """The body, up to :data:`MAX_BODY`, by ``deadline``: a server dripping bytes does not hold
    an evaluation past its timeout (give or take one read)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in reply.iter_bytes():
        if time.monotonic() > deadline:
            raise SourceError("the reply did not arrive whole within the timeout")
        size += len(chunk)
        if size > MAX_BODY:
            raise SourceError(f"the reply is larger than {MAX_BODY // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _reason(body: bytes) -> str:
    """Prometheus's ``error`` (a bad PromQL query says why), or Phoenix's ``detail``."""
    try:
        data = received.loads(body)
    except ValueError:
        return ""
    if isinstance(data, dict):
        for key in ("error", "detail"):
            if isinstance(data.get(key), str):  # cut in measure(), once masked
                return f": {data[key]}"
    return ""


def measure(
    rule: DetectRule,
    client: httpx2.Client,
    sources: tuple[PrometheusSource | None, PhoenixSource | None],
    now: dt.datetime,
    environ: Mapping[str, str],
) -> Measured:
    """The rule's samples from its source (the rules file has been checked: it has one)."""
    prometheus_source, phoenix_source = sources
    if rule.query is not None and prometheus_source is not None:
        measured = prometheus(client, prometheus_source, rule.query)
        return _masked(measured, url_credentials(prometheus_source.url))
    if rule.traces is not None and phoenix_source is not None:
        measured = phoenix(client, phoenix_source, rule.traces, now, environ)
        return _masked(measured, url_credentials(phoenix_source.url))
    return Measured(error="the rule has no source")  # the rules checks refuse this


def _masked(measured: Measured, secrets: set[str]) -> Measured:
    """``measured`` with the source URL's credentials (``http://user:password@…``, which the
    client sends as a Basic auth header) masked in every text a source sent back, as a proxy
    or an error page echoes them; declared too, for whatever else says them."""
    declare(secrets)
    known = known_secrets()

    def clean(text: str) -> str:
        return scrub(text, known)

    return Measured(
        [
            Sample({clean(k): clean(v) for k, v in s.labels.items()}, s.value)
            for s in measured.samples
        ],
        clean(measured.error)[:MAX_ERROR] if measured.error is not None else None,
        clean(measured.note),
    )


def described(rule: DetectRule) -> str:
    """What the rule measures, in one line."""
    if rule.query is not None:
        return rule.query
    traces = rule.traces
    assert traces is not None
    kind = f" {traces.span_kind}" if traces.span_kind else ""
    if traces.measure is Measure.ANNOTATION_RATE:
        labels = "/".join(traces.labels)
        return f"share of{kind} spans annotated {traces.annotation} {labels}, last {traces.window}"
    if traces.measure is Measure.ERROR_RATE:
        return f"share of{kind} spans with status ERROR, last {traces.window}"
    return f"p{traces.percentile:g} latency of{kind} spans (ms), last {traces.window}"
