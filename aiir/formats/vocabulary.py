"""The runbook format's closed vocabularies: lifecycle phases, outcomes, lever kinds, what a
capture holds, and the facts that start regulatory clocks. Plain enums, importable without
pydantic (``aiir.formats.schema`` re-exports them beside the models that use them)."""

import enum


class Phase(enum.StrEnum):
    """Incident lifecycle phases (CoSAI; NIST SP 800-61r3)."""

    PREPARATION = "preparation"
    DETECTION = "detection"
    CONTAINMENT = "containment"
    ERADICATION = "eradication"
    RECOVERY = "recovery"
    POST_INCIDENT = "post-incident"


class Outcome(enum.StrEnum):
    """How a walk ends. ``failed`` and ``aborted`` make ``aiir run`` exit 1."""

    RESOLVED = "resolved"
    CONTAINED = "contained"
    MITIGATED = "mitigated"
    ESCALATED = "escalated"
    HANDED_OFF = "handed-off"
    FALSE_POSITIVE = "false-positive"
    ABORTED = "aborted"
    FAILED = "failed"
    NOT_CONTAINED = "not-contained"  # recorded by aiir, never written in a runbook


class EndOutcome(enum.StrEnum):
    """The outcomes a runbook's end node may state (``not-contained`` is aiir's to record)."""

    RESOLVED = "resolved"
    CONTAINED = "contained"
    MITIGATED = "mitigated"
    ESCALATED = "escalated"
    HANDED_OFF = "handed-off"
    FALSE_POSITIVE = "false-positive"
    ABORTED = "aborted"
    FAILED = "failed"


FAILING_OUTCOMES = frozenset({Outcome.ABORTED, Outcome.FAILED, Outcome.NOT_CONTAINED})
# An end that says one of these holds only when a lever is proven in effect at that point.
CLAIMS_CONTAINMENT = frozenset({Outcome.CONTAINED})


class LeverKind(enum.StrEnum):
    """Containment levers (docs/domain.md, Containment levers)."""

    KILL_SWITCH = "kill-switch"
    FILTER = "filter"
    REROUTE = "reroute"
    RATE_LIMIT = "rate-limit"
    BLOCK = "block"
    DISABLE_TOOL = "disable-tool"
    ROLLBACK = "rollback"
    QUARANTINE = "quarantine"
    PURGE_MEMORY = "purge-memory"
    HUMAN_IN_THE_LOOP = "human-in-the-loop"


class EvidenceKind(enum.StrEnum):
    """What a forensic capture holds (CoSAI forensic capture list)."""

    SYSTEM_PROMPT = "system-prompt"
    USER_PROMPTS = "user-prompts"
    PARAMETERS = "parameters"
    OUTPUTS = "outputs"
    RETRIEVED_DOCUMENTS = "retrieved-documents"
    TOOL_CALLS = "tool-calls"
    GUARDRAIL_VERDICTS = "guardrail-verdicts"
    MODEL_IDENTITY = "model-identity"
    GATEWAY_STATE = "gateway-state"
    METRICS = "metrics"
    OTHER = "other"


class Classification(enum.StrEnum):
    """Facts about an incident that start regulatory clocks (docs/domain.md, Regulatory clocks)."""

    SERIOUS_INCIDENT = "serious-incident"  # EU AI Act Art. 3(49), 73(2)
    HIGH_RISK_SYSTEM = "high-risk-system"  # the system is a high-risk AI system (provider duties)
    DEATH = "death"  # Art. 73(4)
    WIDESPREAD_INFRINGEMENT = "widespread-infringement"  # Art. 73(3)
    CRITICAL_INFRASTRUCTURE = "critical-infrastructure"  # Art. 73(3); GPAI 2 d
    PERSONAL_DATA_BREACH = "personal-data-breach"  # GDPR Art. 33
    CYBERSECURITY_BREACH = "cybersecurity-breach"  # GPAI 5 d (incl. weight exfiltration)
    GPAI_SYSTEMIC = "gpai-systemic"  # a general-purpose model with systemic risk is involved
    SIGNIFICANT_INCIDENT = "significant-incident"  # NIS2 Art. 23
    MAJOR_ICT_INCIDENT = "major-ict-incident"  # DORA Art. 19
    EXPLOITED_VULNERABILITY = "exploited-vulnerability"  # CRA Art. 14
    CRITICAL_SAFETY_INCIDENT = "critical-safety-incident"  # California SB 53
    IMMINENT_RISK = "imminent-risk"  # SB 53: imminent risk of death or serious injury
