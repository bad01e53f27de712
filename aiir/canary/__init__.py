"""Detection: canary suites against a model, drift over time, alerts, incidents, regressions.

- :mod:`aiir.canary.suite`: loading suites and resolving their target
- :mod:`aiir.canary.assertions`: judging one reply
- :mod:`aiir.canary.runner`: sending the prompts, asynchronously, with bounded concurrency
- :mod:`aiir.canary.stats` and :mod:`aiir.canary.drift`: KS, PSI and the drift verdicts
- :mod:`aiir.canary.history`: the runs of a suite over time (JSON Lines)
- :mod:`aiir.canary.alerts`: PagerDuty and Slack, through :mod:`aiir.outbound.notify`
- :mod:`aiir.canary.escalate`: opening an incident of a runbook on failure
- :mod:`aiir.canary.learn`: an incident's hostile prompts become regression canaries
- :mod:`aiir.canary.sweep`: ``aiir canary run`` as one function
"""
