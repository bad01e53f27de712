"""Senders for the places incidents are announced: PagerDuty, Slack, Statuspage, a JSON webhook.

Each send returns a :class:`Delivery`; none raises for a refusal or an unreachable endpoint, so a
caller decides what a failed page means. The wire formats are in docs/domain.md (Message formats). Secrets (a
routing key, a webhook URL, an API key) are masked in every delivery record and error text.
Retries: PagerDuty (its dedup key) and webhooks (one Idempotency-Key on every try) on 429, 5xx
and no answer, with backoff (honouring ``Retry-After``); never on another 4xx, which would fail
the same way again. Slack, Teams, Jira and Statuspage creates have no idempotency key: only a 429
is retried, never a 5xx or a lost answer, which may have been delivered.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2

from aiir.errors import InputError
from aiir.formats import received
from aiir.incident import payloads
from aiir.redact import mask_data, scrub

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
STATUSPAGE_URL = "https://api.statuspage.io"
PAGERDUTY_URL_VARIABLE = "AIIR_PAGERDUTY_URL"
STATUSPAGE_URL_VARIABLE = "AIIR_STATUSPAGE_URL"
CLIENT = "aiir"
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_PAYLOAD = 512 * 1024
MAX_PAGE_MESSAGE = MAX_PAYLOAD // 2  # bytes of JSON for a page's text: the rest has room
EXCERPT = 500
MAX_REPLY = 1024 * 1024  # bytes of a receiver's reply kept; the rest is not stored
IDEMPOTENCY_KEY = "Idempotency-Key"  # the same on every try of one webhook message

EventAction = Literal["trigger", "acknowledge", "resolve"]
PagerDutySeverity = Literal["critical", "error", "warning", "info"]
StatuspageStatus = Literal["investigating", "identified", "monitoring", "resolved"]
StatuspageImpact = Literal["none", "minor", "major", "critical"]

# The one map from an aiir severity to PagerDuty's, for runbook pages and canary alerts alike
# (docs/notifications.md).
PAGERDUTY_SEVERITY: dict[str, PagerDutySeverity] = {
    "SEV1": "critical",
    "SEV2": "error",
    "SEV3": "warning",
    "SEV4": "info",
    "SEV5": "info",
}
_PRINTABLE_ASCII = frozenset(map(chr, range(0x20, 0x7F)))


def pagerduty_severity(severity: str) -> PagerDutySeverity:
    """PagerDuty's severity for an aiir one (``info`` for anything unknown)."""
    return PAGERDUTY_SEVERITY.get(severity, "info")


@dataclass(frozen=True)
class Delivery:
    """What became of one message: ``ok`` only when the receiver accepted it."""

    channel: str
    ok: bool
    status: int | None
    attempts: int
    reply: str  # excerpt of the receiver's answer, secrets masked
    request: dict[str, Any]  # method, url and body as sent, secrets masked
    reason: str = "ok"
    reference: str | None = None  # PagerDuty dedup key, Statuspage incident id
    # A request that went out and got no answer that says taken or refused (a timeout, a
    # connection lost after sending, a 500, 502 or 504 from a proxy in front): the receiver may
    # have taken it. Neither "sent" nor "not taken" is known.
    uncertain: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ok": self.ok,
            "status": self.status,
            "attempts": self.attempts,
            "reason": self.reason,
            "reference": self.reference,
            "reply": self.reply,
            "request": self.request,
            **({"uncertain": True} if self.uncertain else {}),
        }

    def sent_data(self, reply: dict[str, Any]) -> payloads.NotifySent:
        """The delivery as ``notify.sent`` keeps it, the receiver's answer as ``reply``; the
        sender adds where it was sent from."""
        sent = payloads.NotifySent(
            channel=self.channel,
            ok=self.ok,
            status=self.status,
            attempts=self.attempts,
            reason=self.reason,
            reference=self.reference,
            reply=reply,
            request=self.request,
        )
        if self.uncertain:
            sent["uncertain"] = True
        return sent


@dataclass(frozen=True)
class PagerDutyEvent:
    """The ``payload`` of a PagerDuty trigger (Events API v2)."""

    summary: str
    source: str
    severity: PagerDutySeverity
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = None
    custom_details: dict[str, Any] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "summary": _cut(self.summary, MAX_SUMMARY),
            "source": self.source,
            "severity": self.severity,
        }
        optional = {
            "timestamp": self.timestamp,
            "component": self.component,
            "group": self.group,
            "class": self.class_,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        payload["custom_details"] = self.custom_details
        return payload


@dataclass(frozen=True)
class Account:
    """An Atlassian site and the Basic auth credentials (email, API token) for it."""

    base_url: str
    email: str
    token: str

    def authorization(self) -> str:
        pair = f"{self.email}:{self.token}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True)
class _Attempted:
    status: int | None
    body: str
    reason: str
    retry_after: float | None  # None: do not retry
    uncertain: bool = False  # sent, and no answer says taken or refused: it may have been


class Notifier:
    """Sends alerts and status updates over one HTTP client; ``sleep`` waits between retries."""

    def __init__(
        self,
        client: httpx2.Client,
        sleep: Callable[[float], None],
        environ: Mapping[str, str],
        *,
        retries: int = 3,
        timeout: float = 10.0,
        backoff: float = 1.0,
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.environ = environ
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff

    def secret(self, variable: str, what: str) -> str:
        """The value of ``variable``, surrounding whitespace dropped (a mounted secret file often
        ends in a newline); a clear error when it is unset, or holds what no key, token or URL
        can (a line break inside, a non-ASCII character): such a value would fail on the wire."""
        value = self.environ.get(variable, "").strip()
        if not value:
            raise InputError(f"{what}: environment variable {variable} is not set")
        if not set(value) <= _PRINTABLE_ASCII:
            raise InputError(
                f"{what}: environment variable {variable} holds a line break, a control or a "
                "non-ASCII character, which no key or URL can; nothing was sent"
            )
        return value

    # --- PagerDuty Events API v2 -------------------------------------------------------------

    def trigger(
        self,
        routing_key: str,
        dedup_key: str,
        event: PagerDutyEvent,
        links: Sequence[Link] = (),
    ) -> Delivery:
        """Open (or update, for the same ``dedup_key``) an alert."""
        body = self._event(routing_key, "trigger", dedup_key)
        body["payload"] = event.as_payload()
        if links:
            body["links"] = [{"href": link.href, "text": link.text} for link in links]
        body["client"] = CLIENT
        return self._pagerduty(body, routing_key)

    def acknowledge(self, routing_key: str, dedup_key: str) -> Delivery:
        return self._pagerduty(self._event(routing_key, "acknowledge", dedup_key), routing_key)

    def resolve(self, routing_key: str, dedup_key: str) -> Delivery:
        return self._pagerduty(self._event(routing_key, "resolve", dedup_key), routing_key)

    def _event(self, routing_key: str, action: EventAction, dedup_key: str) -> dict[str, Any]:
        if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY:
            raise InputError(f"a PagerDuty dedup key has 1 to {MAX_DEDUP_KEY} characters")
        return {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}

    def _pagerduty(self, body: dict[str, Any], routing_key: str) -> Delivery:
        if len(json.dumps(body).encode()) > MAX_PAYLOAD:
            raise InputError("PagerDuty event is larger than 512 KB; shorten custom_details")
        url = self.environ.get(PAGERDUTY_URL_VARIABLE) or PAGERDUTY_URL
        delivery = self._send("pagerduty", "POST", url, body, {}, [routing_key])
        reply = _json(delivery.reply)
        ok = delivery.ok and isinstance(reply, dict) and reply.get("status") == "success"
        reference = reply.get("dedup_key") if isinstance(reply, dict) else None
        return _replace(
            delivery,
            ok=ok,
            reason=delivery.reason if ok or not delivery.ok else "reply is not a success",
            reference=str(reference or body["dedup_key"]),
        )

    # --- Slack incoming webhook ----------------------------------------------------------------

    def slack(
        self, webhook_url: str, text: str, blocks: Sequence[Mapping[str, Any]] = ()
    ) -> Delivery:
        """Post ``text`` (the notification fallback) and optional Block Kit ``blocks``. Slack
        has no idempotency key: a try that may have been delivered is not sent again. An
        incoming webhook answers ``ok``, a Workflow Builder trigger (``/triggers/…``)
        ``{"ok":true}``: either is delivered; anything else (``{"ok":false,"error":…}``) is not."""
        body: dict[str, Any] = {"text": text}
        if blocks:
            body["blocks"] = list(blocks)
        delivery = self._send(
            "slack", "POST", webhook_url, body, {}, [webhook_url], idempotent=False
        )
        said = delivery.reply.strip()
        if delivery.ok and not _slack_ok(said):
            error = _field("error")(said)
            return _replace(delivery, ok=False, reason=f"Slack said {error or said!r}")
        return delivery

    # --- Microsoft Teams Workflows webhook ---------------------------------------------------

    def teams(self, webhook_url: str, message: Mapping[str, Any]) -> Delivery:
        """Post a ``message`` activity (Adaptive Card attachments) to a Teams Workflows webhook;
        the trigger accepts with 202 and an empty body, so any 2xx is a success. No
        idempotency key either: a try that may have been delivered is not sent again."""
        return self._send(
            "teams", "POST", webhook_url, dict(message), {}, [webhook_url], idempotent=False
        )

    # --- Jira Cloud and Jira Service Management -------------------------------------------------

    def jira_issue(self, account: Account, fields: Mapping[str, Any]) -> Delivery:
        """Create an issue (``POST /rest/api/3/issue``); ``reference`` is its key. A create is
        not idempotent: only a 429 (not processed) is retried, never a 5xx or a lost answer,
        which may have created it already."""
        url = f"{account.base_url}/rest/api/3/issue"
        body = {"fields": dict(fields)}
        return self._atlassian(account, url, body, "key")

    def jira_link(self, account: Account, link_type: str, inward: str, outward: str) -> Delivery:
        """Link two issues (``POST /rest/api/3/issueLink``); Jira answers 201 with no body."""
        url = f"{account.base_url}/rest/api/3/issueLink"
        body = {
            "type": {"name": link_type},
            "inwardIssue": {"key": inward},
            "outwardIssue": {"key": outward},
        }
        return self._atlassian(account, url, body, None)

    def jsm_request(
        self, account: Account, service_desk: str, request_type: str, summary: str, text: str
    ) -> Delivery:
        """Raise a customer request (``POST /rest/servicedeskapi/request``); ``reference`` is
        its issue key. The description is plain text, as the API takes it by default."""
        url = f"{account.base_url}/rest/servicedeskapi/request"
        body = {
            "serviceDeskId": service_desk,
            "requestTypeId": request_type,
            "requestFieldValues": {"summary": summary, "description": text},
        }
        return self._atlassian(account, url, body, "issueKey", channel="jsm")

    def _atlassian(
        self,
        account: Account,
        url: str,
        body: dict[str, Any],
        key: str | None,
        channel: str = "jira",
    ) -> Delivery:
        headers = {"Authorization": account.authorization(), "Accept": "application/json"}
        secrets = [account.token, account.authorization()]
        read = None if key is None else _field(key)
        delivery = self._send(
            channel, "POST", url, body, headers, secrets, idempotent=False, read=read
        )
        if delivery.ok and key is not None and not delivery.reference:
            return _replace(delivery, ok=False, reason=f"the reply names no issue ({key})")
        return delivery

    # --- Statuspage ----------------------------------------------------------------------------

    def statuspage_create(
        self,
        api_key: str,
        page_id: str,
        name: str,
        status: StatuspageStatus,
        body: str,
        *,
        impact: StatuspageImpact | None = None,
        component_ids: Iterable[str] = (),
    ) -> Delivery:
        """Open a Statuspage incident; ``reference`` is its id, for updates."""
        incident: dict[str, Any] = {"name": name, "status": status, "body": body}
        if impact is not None:
            incident["impact_override"] = impact
        incident["component_ids"] = list(component_ids)
        url = f"{self._statuspage_base()}/v1/pages/{_segment(page_id)}/incidents"
        # A create is not idempotent: a retry over a 5xx or a lost answer could open a second
        # public incident. Only a 429 (not processed) is tried again.
        return self._statuspage("POST", url, {"incident": incident}, api_key, idempotent=False)

    def statuspage_update(
        self,
        api_key: str,
        page_id: str,
        incident_id: str,
        *,
        status: StatuspageStatus | None = None,
        body: str | None = None,
        impact: StatuspageImpact | None = None,
        name: str | None = None,
    ) -> Delivery:
        """Post an update (status and text) to an open Statuspage incident."""
        fields = {"name": name, "status": status, "body": body, "impact_override": impact}
        incident = {k: v for k, v in fields.items() if v is not None}
        base = self._statuspage_base()
        url = f"{base}/v1/pages/{_segment(page_id)}/incidents/{_segment(incident_id)}"
        return self._statuspage("PATCH", url, {"incident": incident}, api_key)

    def _statuspage_base(self) -> str:
        return (self.environ.get(STATUSPAGE_URL_VARIABLE) or STATUSPAGE_URL).rstrip("/")

    def _statuspage(
        self,
        method: str,
        url: str,
        body: dict[str, Any],
        api_key: str,
        *,
        idempotent: bool = True,
    ) -> Delivery:
        headers = {"Authorization": f"OAuth {api_key}"}
        delivery = self._send(
            "statuspage", method, url, body, headers, [api_key], idempotent=idempotent
        )
        reply = _json(delivery.reply)
        reference = reply.get("id") if isinstance(reply, dict) else None
        return _replace(delivery, reference=str(reference) if reference else None)

    # --- generic JSON webhook ------------------------------------------------------------------

    def webhook(self, url: str, body: Any, headers: Mapping[str, str] | None = None) -> Delivery:
        """POST ``body`` as JSON; any 2xx is a success. The URL counts as a secret.

        Every try of one message carries the same ``Idempotency-Key`` (unless ``headers`` set
        one), so a receiver that honours it does not act twice on a retry after a lost answer."""
        given = dict(headers or {})
        if not any(k.lower() == IDEMPOTENCY_KEY.lower() for k in given):
            given[IDEMPOTENCY_KEY] = str(uuid.uuid4())
        secrets = [url, *(v for k, v in given.items() if k.lower() == "authorization")]
        return self._send("webhook", "POST", url, body, given, secrets)

    # --- sending -------------------------------------------------------------------------------

    def _send(
        self,
        channel: str,
        method: str,
        url: str,
        body: Any,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        *,
        idempotent: bool = True,
        read: Callable[[str], str | None] | None = None,
    ) -> Delivery:
        """Send, retrying what may succeed later; a request that is not ``idempotent`` only
        after a 429 (the receiver says it did nothing). ``read`` takes the reference from the
        whole reply of a success (the delivery keeps an excerpt)."""

        def mask(text: str) -> str:
            return scrub(text, [s for s in secrets if s])

        attempts = 0
        maybe: _Attempted | None = None  # the first try that may have been delivered
        while True:
            attempts += 1
            tried = self._attempt(method, url, body, headers)
            maybe = maybe or (tried if tried.uncertain else None)
            if tried.retry_after is None or attempts > self.retries:
                break
            if not idempotent and tried.status != 429:
                break  # it may have been delivered: sending it again could post it twice
            self.sleep(tried.retry_after or self.backoff * 2 ** (attempts - 1))
        ok = tried.status is not None and 200 <= tried.status < 300
        reason = "ok" if ok else _said(tried, mask)
        if not ok and maybe is not None and not tried.uncertain:  # a later refusal: still maybe
            reason += f" (after a try that may have been delivered: {_said(maybe, mask)})"
        request = {
            "method": method,
            "url": mask(url),
            "headers": dict.fromkeys(headers, "***"),
            "json": mask_data(body, mask),
        }
        return Delivery(
            channel=channel,
            ok=ok,
            status=tried.status,
            attempts=attempts,
            reply=mask(tried.body)[:EXCERPT],  # masked, then cut: never half a secret
            request=request,
            reason=reason,
            reference=read(tried.body) if ok and read is not None else None,
            uncertain=not ok and maybe is not None,
        )

    def _attempt(self, method: str, url: str, body: Any, headers: Mapping[str, str]) -> _Attempted:
        """One try, bounded by ``timeout`` as a whole (a reply dripping a byte at a time is
        cut off like one that never comes), its reply kept up to :data:`MAX_REPLY` bytes."""
        from aiir.outbound.gateway import NOT_SENDABLE, Call
        from aiir.outbound.sending import exchange, retry_after_seconds

        call = Call("", method, url, dict(headers), {}, body, None, self.timeout, 0, None, {})
        outcome = exchange(self.client, call, MAX_REPLY)
        if not isinstance(outcome, tuple):
            if outcome.reason == NOT_SENDABLE:
                # Refused on this side before anything went out: trying again would fail alike.
                reason = "not sent: the URL or a header holds a character HTTP cannot carry"
                return _Attempted(None, "", reason, None)
            return _Attempted(None, "", f"no answer: {outcome.reason}", 0.0, outcome.uncertain)
        status, replied, kept, _size = outcome
        text = kept.decode("utf-8", errors="replace")
        reason = f"HTTP {status}"  # and what the body says: see _said
        if status == 429 or status >= 500:
            wait = retry_after_seconds(replied.get("retry-after"))
            # 429 and 503 say it was not taken; another 5xx may come from a proxy after it was.
            return _Attempted(status, text, reason, wait, status not in {429, 503})
        return _Attempted(status, text, reason, None)


def _said(tried: _Attempted, mask: Callable[[str], str]) -> str:
    """Why a try failed, in one line: for an answer, its status and the start of its body,
    masked before it is folded and cut (either would change a secret's spelling)."""
    if tried.status is None:
        return mask(tried.reason)
    said = " ".join(mask(tried.body).split())[:200]
    if 300 <= tried.status < 400:  # never followed: a message goes where the channel says
        said = f"a redirect, not followed (check the channel's URL){'; ' + said if said else ''}"
    return f"{tried.reason}: {said}" if said else tried.reason


def _replace(delivery: Delivery, **changes: Any) -> Delivery:
    return Delivery(**{**delivery.__dict__, **changes})


def _slack_ok(reply: str) -> bool:
    """An incoming webhook's ``ok``, or a workflow trigger's JSON object with ``"ok": true``."""
    if reply == "ok":
        return True
    answer = _json(reply) if reply.startswith("{") else None
    return isinstance(answer, dict) and answer.get("ok") is True


def _json(text: str) -> Any:
    try:
        return received.loads(text)
    except ValueError:
        return None


def _field(key: str) -> Callable[[str], str | None]:
    """Reads one string field of a JSON object reply (``key``, ``issueKey``)."""

    def read(text: str) -> str | None:
        reply = _json(text)
        value = reply.get(key) if isinstance(reply, dict) else None
        return value if isinstance(value, str) and value else None

    return read


def within(text: str, budget: int, where: str = "the incident's journal") -> str:
    """``text`` cut so that as JSON it takes at most ``budget`` bytes, ending in a line that says
    how many characters more are in the journal: a huge message still pages, nothing is cut
    silently (PagerDuty refuses an event over 512 KB)."""
    if len(json.dumps(text)) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest start of the text that fits with its note
        middle = (low + high + 1) // 2
        if len(json.dumps(_cut_note(text, middle, where))) <= budget:
            low = middle
        else:
            high = middle - 1
    return _cut_note(text, low, where)


def _cut_note(text: str, keep: int, where: str) -> str:
    return f"{text[:keep]}\n… {len(text) - keep:,} more characters of this message are in {where}."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _segment(value: str) -> str:
    """One path segment: an id cannot add a path or leave the API."""
    import urllib.parse

    return urllib.parse.quote(value, safe="")
