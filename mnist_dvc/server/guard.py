"""Who may talk to the app: requests must name this server in their Host header, and only the app's own
page may send requests that write or compute (POST). Every answer carries headers that keep the page's
content its own.

Why both checks: a page on another site can make the user's browser send a POST to 127.0.0.1 (a form, or
fetch in no-cors mode) without being able to read the answer, and a site whose name its owner points at
127.0.0.1 (DNS rebinding) is the same origin as itself, so it can read answers too. The Host check stops
the second (the request names the attacker's site, not this server), the Origin check the first.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mnist_dvc.errors import one_line

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")  # listening everywhere: no one name to expect, only --allow-host names
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Sec-Fetch-Site values of a request the app's own page made, or the user typed; "same-site" is another
# port of the same host, another origin.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
# Everything the page uses comes from this server; data: and blob: URLs are the page's own images.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def host_name(host: str) -> str:
    """How a Host header spells `host` (a name, an address, either with a port): IPv6 addresses in
    brackets, names in lower case."""
    host = host.lower()
    return f"[{host}]" if host.count(":") > 1 and not host.startswith("[") else host


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host headers the server answers: the address it listens on and this machine's own names, with
    its port, and each `extra` name (with its port unless it gives one)."""
    names = [*LOCAL_NAMES, *([] if host in WILDCARDS else [host_name(host)])]
    allowed = {f"{name}:{port}" for name in names}
    for name in extra:
        name = host_name(name.strip())
        allowed.add(name if name.rsplit("]", 1)[-1].count(":") == 1 else f"{name}:{port}")
    if port == 80:  # a browser leaves the default port out of the Host header
        allowed |= {name.rsplit(":", 1)[0] for name in allowed}
    return frozenset(allowed)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def refusal(scope: Scope, allowed: frozenset[str]) -> tuple[int, str] | None:
    """Why a request is refused, as (status, message), or None when it may go on."""
    host = (header(scope, b"host") or "").strip().lower()
    if host not in allowed:
        shown = one_line(host, 80) if host else "none"
        return 421, (f"this server answers to {', '.join(sorted(allowed))}, not to the host {shown!r}; "
                     "start it with --allow-host NAME to be reached by another name")
    if scope["method"] in SAFE_METHODS:
        return None
    origin, site = header(scope, b"origin"), header(scope, b"sec-fetch-site")
    # A browser sends Origin with every POST and Sec-Fetch-Site with every request; a request with
    # neither comes from a program such as curl, which no web page can make the browser impersonate.
    if origin is not None and origin.lower() not in (f"http://{host}", f"https://{host}"):
        return 403, (f"refused a {scope['method']} from the page {one_line(origin, 80)!r}: only the app's own "
                     f"page (http://{host}) may send it")
    if site is not None and site.lower() not in OWN_FETCH_SITES:
        return 403, (f"refused a {scope['method']} from another site (Sec-Fetch-Site: {one_line(site, 40)}): "
                     "only the app's own page may send it")
    return None


class Guard:
    """ASGI middleware: the app behind the Host and Origin checks, with SECURITY_HEADERS on every answer,
    refusals included."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        refused = refusal(scope, self.allowed)
        if refused is not None:
            status, message = refused
            await JSONResponse({"error": message}, status_code=status)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
