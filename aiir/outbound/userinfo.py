"""A URL's ``user:password@`` as HTTP Basic auth, never in place of a request's own credential.

The HTTP client turns a URL's userinfo into a Basic auth header that replaces whatever
``Authorization`` the request carries: ``--gateway gw=http://user:pass@host`` silently swapped the
runbook's ``Authorization: Bearer {{ env.KEY }}`` for the proxy's password, and a lever's verify
request that presents the attacker's key (``Authorization: Bearer {{ inputs.key }}``, expecting a
401) presented the operator's password instead, and judged that. Every request aiir sends
(gateways, channels, canaries, detection sources) goes with :data:`URL_USERINFO`: the userinfo is
sent as Basic auth only when the request has no ``Authorization`` header of its own.
"""

from __future__ import annotations

import base64
from collections.abc import Generator

import httpx2


class UserinfoAuth(httpx2.Auth):
    """Basic auth from the URL's userinfo, unless the request says its own ``Authorization``."""

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        url = request.url
        if "authorization" not in request.headers and (url.username or url.password):
            pair = f"{url.username}:{url.password}".encode()
            request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        yield request


URL_USERINFO = UserinfoAuth()
