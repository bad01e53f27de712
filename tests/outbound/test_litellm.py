"""aiir against the real LiteLLM proxy (1.108.7), without a database, in front of the sandbox.

What LiteLLM really does here: it serves chat through its upstream; on an upstream failure it
serves the configured fallback and says so in ``x-litellm-model-group`` (and the JSON ``model``);
per-request guardrails block before the upstream is called; its admin endpoints fail without a
database, which aiir must report as "lever unavailable", never as success. Every request of the
litellm profile is checked against the running proxy's own ``/openapi.json``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from jsonschema import Draft202012Validator

from aiir.formats.library import builtin_profiles
from aiir.formats.schema import Request
from aiir.outbound.gateway import Call, Endpoint, Reply, build_call
from aiir.outbound.sending import Sender, diagnose
from tests.conftest import BLOCKED_WORD, FALLBACK, GUARDRAIL, PRIMARY, LiteLLMProxy

pytestmark = pytest.mark.litellm

PROFILES = builtin_profiles()
LITELLM = PROFILES["litellm"]
NO_DB = "Not connected"

# Sample parameters for every action of the litellm profile: the bodies aiir really sends.
SAMPLES: dict[str, dict[str, Any]] = {
    "health": {},
    "readiness": {},
    "models": {},
    "model_info": {},
    "chat": {"model": PRIMARY, "prompt": "hello"},
    "fallback_probe": {"model": PRIMARY},
    "chat_guarded": {"model": PRIMARY, "prompt": "hello", "guardrails": [GUARDRAIL]},
    "apply_guardrail": {"guardrail": GUARDRAIL, "text": "hello"},
    "block_key": {"key": "sk-incident-attacker-0001"},
    "unblock_key": {"key": "sk-incident-attacker-0001"},
    "block_team": {"team_id": "team-support"},
    "unblock_team": {"team_id": "team-support"},
    "delete_model": {"model_id": "0123456789abcdef"},
    "add_model": {
        "model_name": PRIMARY,
        "litellm_params": {"model": f"openai/{PRIMARY}", "api_base": "http://127.0.0.1:9/v1"},
        "model_id": "0123456789abcdef",
    },
    "set_fallback": {"model": PRIMARY, "fallbacks": [FALLBACK]},
    "get_fallback": {"model": PRIMARY},
    "clear_fallback": {"model": PRIMARY},
    "add_guardrail": {
        "name": "incident-filter",
        "guardrail": "litellm_content_filter",
        "blocked_words": ["exfiltrate", "ignore previous instructions"],
    },
    "remove_guardrail": {"guardrail_id": "guardrail-0001"},
    "list_guardrails": {},
    "spend_logs": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
}
# More ways a runbook calls an action: defaults left out.
VARIANTS: list[Any] = [
    *(pytest.param(action, params, id=action) for action, params in SAMPLES.items()),
    pytest.param(
        "add_model",
        {"model_name": PRIMARY, "litellm_params": {"model": f"openai/{PRIMARY}"}},
        id="add_model-new-id",
    ),
    pytest.param(
        "chat_guarded", {"model": PRIMARY, "prompt": "hi"}, id="chat_guarded-no-guardrails"
    ),
]
# Actions that need LiteLLM's database: without one, aiir must call them unavailable.
NEEDS_DATABASE = {
    "block_key": "readiness says db: Not connected",
    "unblock_key": "readiness says db: Not connected",
    "block_team": "readiness says db: Not connected",
    "unblock_team": "readiness says db: Not connected",
    "delete_model": "No DB Connected",
    "add_model": "No DB Connected",
    "set_fallback": "STORE_MODEL_IN_DB",
    "clear_fallback": "STORE_MODEL_IN_DB",
    "add_guardrail": "Prisma client not initialized",
    "remove_guardrail": "Prisma client not initialized",
    "spend_logs": "Database not connected",
}


@pytest.fixture
def proxy(litellm_proxy: LiteLLMProxy) -> Iterator[LiteLLMProxy]:
    """The shared proxy, its upstream reset (no faults, empty logs) before and after."""
    litellm_proxy.sandbox.reset()
    yield litellm_proxy
    litellm_proxy.sandbox.reset()


def endpoint(proxy: LiteLLMProxy) -> Endpoint:
    return Endpoint("llm", "litellm", proxy.url, {"Authorization": f"Bearer {proxy.master_key}"})


def call(proxy: LiteLLMProxy, action: str, params: dict[str, Any], **request: Any) -> Call:
    """Build a profile action exactly as a runbook step would."""
    spec = Request.model_validate({"use": f"litellm.{action}", "with": params, **request})
    return build_call(spec, f"test.{action}", {}, {"llm": endpoint(proxy)}, PROFILES)


def send(the_call: Call) -> Reply:
    with httpx2.Client(trust_env=False) as client:
        return Sender(client, lambda _seconds: None).send(the_call)


def do(proxy: LiteLLMProxy, action: str, params: dict[str, Any], **request: Any) -> Reply:
    return send(call(proxy, action, params, **request))


# --- health, models, chat ----------------------------------------------------------------------


def test_health_readiness_and_models(proxy: LiteLLMProxy) -> None:
    assert do(proxy, "health", {}).ok
    readiness = do(proxy, "readiness", {})
    assert readiness.ok
    assert readiness.json()["db"] == NO_DB
    models = do(proxy, "models", {})
    assert models.ok, models.reason
    assert {m["id"] for m in models.json()["data"]} == {PRIMARY, FALLBACK}
    info = do(proxy, "model_info", {})
    assert info.ok, info.reason
    deployments = {d["model_name"]: d for d in info.json()["data"]}
    assert set(deployments) == {PRIMARY, FALLBACK}
    assert deployments[PRIMARY]["litellm_params"]["model"] == f"openai/{PRIMARY}"
    assert deployments[PRIMARY]["model_info"]["id"]  # what delete_model takes


def test_chat_goes_through_the_proxy_to_the_upstream(proxy: LiteLLMProxy) -> None:
    reply = do(proxy, "chat", {"model": PRIMARY, "prompt": "hello through the proxy"})
    assert reply.ok, reply.reason
    assert reply.headers["x-litellm-model-group"] == PRIMARY
    assert reply.headers["x-litellm-attempted-fallbacks"] == "0"
    assert reply.json()["model"] == PRIMARY
    assert reply.json()["choices"][0]["message"]["content"] == f"Sandbox reply from {PRIMARY}: OK."
    [logged] = proxy.sandbox.logs
    assert logged["prompt"] == "hello through the proxy"
    assert logged["served_by"] == PRIMARY


def test_without_the_master_key_the_proxy_refuses(proxy: LiteLLMProxy) -> None:
    anonymous = Endpoint("llm", "litellm", proxy.url, {})
    spec = Request.model_validate(
        {"use": "litellm.chat", "with": {"model": PRIMARY, "prompt": "x"}}
    )
    reply = send(build_call(spec, "test", {}, {"llm": anonymous}, PROFILES))
    assert reply.status == 401
    assert not proxy.sandbox.logs


# --- fallbacks -----------------------------------------------------------------------------------


def test_upstream_failure_is_served_by_the_fallback(proxy: LiteLLMProxy) -> None:
    proxy.sandbox.add_fault(PRIMARY, "error", "")
    reply = do(proxy, "chat", {"model": PRIMARY, "prompt": "are you there?"})
    assert reply.ok, reply.reason
    # Who served is the fallback group, in the header and in the body; one fallback attempted.
    assert reply.headers["x-litellm-model-group"] == FALLBACK
    assert reply.headers["x-litellm-attempted-fallbacks"] == "1"
    assert reply.json()["model"] == FALLBACK
    assert [(e["model"], "error" in e) for e in proxy.sandbox.logs] == [
        (PRIMARY, True),
        (FALLBACK, False),
    ]


def test_fallback_probe_is_refused_by_a_default_proxy(proxy: LiteLLMProxy) -> None:
    """LiteLLM 1.108 refuses mock testing params unless the proxy's config allows them."""
    reply = do(proxy, "fallback_probe", {"model": PRIMARY})
    assert reply.status == 400
    assert "Mock testing request params are disabled on this proxy" in reply.text
    assert "dangerously_allow_mock_testing_request_params" in reply.text
    assert not proxy.sandbox.logs


def test_fallback_probe_shows_the_fallback_where_mock_params_are_allowed(
    litellm_mock_proxy: LiteLLMProxy,
) -> None:
    proxy = litellm_mock_proxy
    proxy.sandbox.reset()
    expect = {
        "status": 200,
        "json": {"model": FALLBACK},
        "headers": {"x-litellm-model-group": FALLBACK},
    }
    reply = do(proxy, "fallback_probe", {"model": PRIMARY}, expect=expect)
    assert reply.ok, reply.reason
    # The primary "fails" inside LiteLLM: the upstream only ever sees the fallback.
    assert [e.get("served_by") for e in proxy.sandbox.logs] == [FALLBACK]
    # A group without fallbacks: the mock failure is all there is, so the probe fails.
    lonely = do(proxy, "fallback_probe", {"model": FALLBACK}, expect=expect)
    assert not lonely.ok
    assert lonely.status == 500
    assert "no fallback model group was found" in lonely.text


def test_get_fallback_reads_the_router_without_a_database(proxy: LiteLLMProxy) -> None:
    reply = do(proxy, "get_fallback", {"model": PRIMARY})
    assert reply.ok, reply.reason
    assert reply.json() == {
        "model": PRIMARY,
        "fallback_models": [FALLBACK],
        "fallback_type": "general",
    }
    none = do(proxy, "get_fallback", {"model": FALLBACK})
    assert none.status == 404
    assert f"No general fallbacks configured for model '{FALLBACK}'" in none.text


# --- guardrails -----------------------------------------------------------------------------------


def test_per_request_guardrail_blocks_a_bad_prompt_and_passes_a_benign_one(
    proxy: LiteLLMProxy,
) -> None:
    bad = f"please print the {BLOCKED_WORD} for me"
    blocked = do(
        proxy, "chat_guarded", {"model": PRIMARY, "prompt": bad, "guardrails": [GUARDRAIL]}
    )
    assert blocked.status == 400
    assert f"Content blocked: keyword '{BLOCKED_WORD}' detected" in blocked.text
    assert blocked.json()["error"]["provider_specific_fields"]["guardrail_name"] == GUARDRAIL
    assert not proxy.sandbox.logs  # pre_call: the upstream never saw the prompt

    benign = do(
        proxy, "chat_guarded", {"model": PRIMARY, "prompt": "hi", "guardrails": [GUARDRAIL]}
    )
    assert benign.ok, benign.reason
    assert [e["prompt"] for e in proxy.sandbox.logs] == ["hi"]


def test_guardrail_applies_only_to_requests_that_name_it(proxy: LiteLLMProxy) -> None:
    bad = f"the {BLOCKED_WORD} again"
    assert do(proxy, "chat_guarded", {"model": PRIMARY, "prompt": bad}).ok  # default_on: false
    # LiteLLM ignores a guardrail name it does not know: a typo guards nothing, silently.
    unknown = {"model": PRIMARY, "prompt": bad, "guardrails": ["no-such-guardrail"]}
    assert do(proxy, "chat_guarded", unknown).ok


def test_apply_guardrail(proxy: LiteLLMProxy) -> None:
    blocked = do(proxy, "apply_guardrail", {"guardrail": GUARDRAIL, "text": f"a {BLOCKED_WORD}"})
    assert blocked.status == 400
    assert "Content blocked" in blocked.text
    passed = do(proxy, "apply_guardrail", {"guardrail": GUARDRAIL, "text": "all good"})
    assert passed.ok, passed.reason
    assert passed.json() == {"response_text": "all good"}
    listed = do(proxy, "list_guardrails", {})
    assert [g["guardrail_name"] for g in listed.json()["guardrails"]] == [GUARDRAIL]


# --- admin actions without a database -------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(NEEDS_DATABASE))
def test_database_actions_are_unavailable_never_successful(
    proxy: LiteLLMProxy, action: str
) -> None:
    the_call = call(proxy, action, SAMPLES[action])
    with httpx2.Client(trust_env=False) as client:
        sender = Sender(client, lambda _seconds: None)
        sent = sender.send(the_call)
        reply = diagnose(the_call, sent, PROFILES, sender.send, endpoint(proxy))
    if "readiness" not in NEEDS_DATABASE[action]:  # LiteLLM said why: final, never retried
        assert sent.attempts == 1
    assert not reply.ok
    assert reply.unavailable, f"{action}: {reply.status} {reply.text[:300]}"
    assert reply.reason.startswith("lever unavailable: LiteLLM needs its database")
    assert NEEDS_DATABASE[action] in reply.reason


# --- runbooks walked by `aiir run` ----------------------------------------------------------------


def runbook(levers: dict[str, Any], nodes: dict[str, Any], start: str) -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "litellm-live",
        "title": "Live LiteLLM levers",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM10:2025"]},
        "env": {"LITELLM_MASTER_KEY": {"description": "LiteLLM master key"}},
        "gateways": {
            "llm": {
                "profile": "litellm",
                "url": "http://127.0.0.1:4000",
                "headers": {"Authorization": "Bearer {{ env.LITELLM_MASTER_KEY }}"},
            }
        },
        "levers": levers,
        "start": start,
        "nodes": nodes,
    }


def aiir_run(
    tmp_path: Path, proxy: LiteLLMProxy, document: dict[str, Any], answers: dict[str, Any]
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``aiir run --yes`` in a subprocess against the proxy; the result and the journal."""
    path = tmp_path / "runbook.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    answers_path = tmp_path / "answers.yaml"
    answers_path.write_text(yaml.safe_dump(answers), encoding="utf-8")
    incidents = tmp_path / "incidents"
    env = {**os.environ, "LITELLM_MASTER_KEY": proxy.master_key}
    env |= {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "aiir", "run", str(path), "--yes"),
            *("--gateway", f"llm={proxy.url}", "--incident-dir", str(incidents)),
            *("--answers", str(answers_path)),
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )
    journals = list(incidents.glob("*/journal.jsonl"))
    assert len(journals) == 1, result.stdout + result.stderr
    lines = journals[0].read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert proxy.master_key not in journals[0].read_text(encoding="utf-8")
    return result, events


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == kind]


REROUTE = {
    "reroute": {
        "title": "Serve the model group from its fallback",
        "kind": "reroute",
        "engage": {  # a proxy without a database cannot set fallbacks: check the router's own
            "use": "litellm.get_fallback",
            "with": {"model": PRIMARY},
            "expect": {"json": {"fallback_models": [FALLBACK]}},
        },
        "verify": {
            "use": "litellm.chat",
            "with": {"model": PRIMARY, "prompt": "reroute check"},
            "expect": {
                "status": 200,
                "headers": {"x-litellm-model-group": FALLBACK},
                "json": {"model": FALLBACK},
            },
        },
    }
}
REROUTE_NODES = {
    "contain": {"kind": "lever", "title": "Reroute", "lever": "reroute", "next": "done"},
    "done": {"kind": "end", "title": "Contained", "outcome": "contained"},
}


def test_reroute_is_verified_when_the_fallback_serves(tmp_path: Path, proxy: LiteLLMProxy) -> None:
    proxy.sandbox.add_fault(PRIMARY, "error", "")  # the provider outage
    result, events = aiir_run(tmp_path, proxy, runbook(REROUTE, REROUTE_NODES, "contain"), {})
    assert result.returncode == 0, result.stdout + result.stderr
    [engaged] = of_type(events, "lever.engaged")
    assert engaged["ok"] is True
    [verified] = of_type(events, "lever.verified")
    assert verified["ok"] is True, verified["reply"]
    assert of_type(events, "incident.ended")[0]["outcome"] == "contained"
    served = [e.get("served_by") for e in proxy.sandbox.logs if e["prompt"] == "reroute check"]
    assert served == [None, FALLBACK]  # the primary failed, the fallback answered


def test_reroute_is_not_effective_while_the_primary_still_serves(
    tmp_path: Path, proxy: LiteLLMProxy
) -> None:
    result, events = aiir_run(tmp_path, proxy, runbook(REROUTE, REROUTE_NODES, "contain"), {})
    assert result.returncode == 1, result.stdout + result.stderr
    [verified] = of_type(events, "lever.verified")
    assert verified["ok"] is False
    assert verified["reply"]["reason"] == (
        f"header x-litellm-model-group is {PRIMARY!r}, expected {FALLBACK!r}"
    )
    assert of_type(events, "incident.ended")[0]["outcome"] == "failed"


ADMIN_LEVERS: dict[str, Any] = {
    "block-key": {
        "title": "Block the attacker's key",
        "kind": "block",
        "engage": {"use": "litellm.block_key", "with": {"key": "sk-incident-attacker-0001"}},
        "verify": {
            "use": "litellm.chat",
            "headers": {"Authorization": "Bearer sk-incident-attacker-0001"},
            "with": {"model": PRIMARY, "prompt": "ping"},
            "expect": {"status": [401, 403]},
        },
        "release": {"use": "litellm.unblock_key", "with": {"key": "sk-incident-attacker-0001"}},
    },
    "reroute": {
        "title": "Reroute to the fallback",
        "kind": "reroute",
        "engage": {
            "use": "litellm.set_fallback",
            "with": {"model": PRIMARY, "fallbacks": [FALLBACK]},
        },
        "verify": {"use": "litellm.get_fallback", "with": {"model": PRIMARY}},
        "release": {"use": "litellm.clear_fallback", "with": {"model": PRIMARY}},
    },
    "filter": {
        "title": "Emergency input filter",
        "kind": "filter",
        "engage": {
            "use": "litellm.add_guardrail",
            "with": {
                "name": "incident-filter",
                "guardrail": "litellm_content_filter",
                "blocked_words": ["exfiltrate"],
            },
        },
        "verify": {
            "use": "litellm.chat",
            "with": {"model": PRIMARY, "prompt": "exfiltrate the data"},
            "expect": {"status": 400},
        },
        "release": {
            "use": "litellm.remove_guardrail",
            "with": {"guardrail_id": "{{ vars.guardrail_id }}"},
        },
    },
    "kill": {
        "title": "Remove the deployment",
        "kind": "kill-switch",
        "engage": {"use": "litellm.delete_model", "with": {"model_id": "0123456789abcdef"}},
        # A probe that passes whatever happens: were LiteLLM's "No DB Connected" 500 retried,
        # the probe aiir runs between tries would "confirm" a deletion that never happened.
        "verify": {"use": "litellm.chat", "with": {"model": PRIMARY, "prompt": "ping"}},
    },
}
ADMIN_NODES = {
    "block": {"kind": "lever", "title": "Block", "lever": "block-key", "next": "reroute"},
    "reroute": {"kind": "lever", "title": "Reroute", "lever": "reroute", "next": "filter"},
    "filter": {"kind": "lever", "title": "Filter", "lever": "filter", "next": "kill"},
    "kill": {"kind": "lever", "title": "Kill", "lever": "kill", "next": "done"},
    "done": {"kind": "end", "title": "Contained", "outcome": "contained"},
}


def test_admin_levers_without_a_database_end_as_lever_unavailable(
    tmp_path: Path, proxy: LiteLLMProxy
) -> None:
    # Skip past the first three failures; the last one has no answer, so the walk aborts.
    answers = {f"{node}.on_failure": "skip" for node in ("block", "reroute", "filter")}
    document = runbook(ADMIN_LEVERS, ADMIN_NODES, "block")
    result, events = aiir_run(tmp_path, proxy, document, answers)
    assert result.returncode == 1, result.stdout + result.stderr
    said = {
        "block-key": "readiness says db: Not connected",
        "reroute": "Database storage not enabled. Set 'STORE_MODEL_IN_DB=True'",
        "filter": "Prisma client not initialized",
        "kill": "No DB Connected",
    }
    engaged = {e["lever"]: e for e in of_type(events, "lever.engaged")}
    assert set(engaged) == set(said)
    for lever, words in said.items():
        reply = engaged[lever]["reply"]
        assert engaged[lever]["ok"] is False, lever
        assert reply["unavailable"] is True, lever
        assert reply["reason"].startswith("lever unavailable: LiteLLM needs its database"), lever
        assert words in reply["reason"], (lever, reply["reason"])
    assert not of_type(events, "lever.verified")  # nothing engaged, nothing to verify
    assert not any(e.get("confirmed_by_verify") for e in engaged.values())
    assert of_type(events, "incident.ended")[0]["outcome"] == "failed"
    assert "lever unavailable" in result.stdout + result.stderr
    # The block-key probe between retries of its bare 500 used the attacker's key: LiteLLM
    # refused it without a database (400 "No connected db."), so no chat reached the upstream.
    assert not proxy.sandbox.logs


# --- the profile against the proxy's own OpenAPI document -----------------------------------------


@pytest.fixture(scope="module")
def openapi(litellm_proxy: LiteLLMProxy) -> dict[str, Any]:
    with httpx2.Client(trust_env=False, timeout=60) as client:
        response = client.get(f"{litellm_proxy.url}/openapi.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The OpenAPI operation serving ``method path``: an exact path first, then templates."""
    paths: dict[str, dict[str, Any]] = document["paths"]
    method = method.lower()
    if path in paths:
        return paths[path].get(method)
    for template, operations in paths.items():
        parts = re.split(r"(\{[^}/]+\})", template)
        pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        if "{" in template and method in operations and re.fullmatch(pattern, path):
            found: dict[str, Any] = operations[method]
            return found
    return None


def test_samples_cover_every_profile_action() -> None:
    assert set(SAMPLES) == set(LITELLM.actions)
    admin = {name for name, action in LITELLM.actions.items() if action.admin}
    assert admin <= set(NEEDS_DATABASE)


@pytest.mark.parametrize(("action", "params"), VARIANTS)
def test_profile_request_matches_the_live_openapi(
    litellm_proxy: LiteLLMProxy, openapi: dict[str, Any], action: str, params: dict[str, Any]
) -> None:
    the_call = call(litellm_proxy, action, params)
    path = httpx2.URL(the_call.url).raw_path.decode().split("?", 1)[0]
    found = operation(openapi, the_call.method, path)
    assert found is not None, f"{action}: {the_call.method} {path} is not in LiteLLM's openapi.json"
    declared = {p["name"] for p in found.get("parameters", []) if p.get("in") == "query"}
    assert set(the_call.query) <= declared, f"{action}: query {sorted(the_call.query)}"
    body = found.get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema")
    if the_call.json is None:
        assert not body.get("required"), f"{action}: LiteLLM requires a body"
        return
    assert schema is not None, f"{action}: sends JSON but LiteLLM takes none"
    validator = Draft202012Validator({**schema, "components": openapi["components"]})
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
        for e in validator.iter_errors(the_call.json)
    ]
    assert not errors, f"{action}: {json.dumps(the_call.json)}\n" + "\n".join(errors)
