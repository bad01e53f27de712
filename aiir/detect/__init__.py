"""``aiir detect``: rules over telemetry (Prometheus, a trace store) that page and open incidents."""
