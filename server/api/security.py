"""Who may call the API: the shared token, the WebSocket Origin check, CORS, and body size.

- **Token** (setting ``token``, off by default): every ``/api`` request and WebSocket must carry
  it, as ``Authorization: Bearer TOKEN`` or ``?token=TOKEN`` (browsers cannot set headers on a
  WebSocket, so the pages use the query). A missing or wrong token gets 401 (a WebSocket is closed
  with 1008). The pages and Plotly.js stay public: they hold no data.
- **Origin**: browsers apply no CORS to WebSockets, so any web page could open one to a server
  on the reader's network and spend its device. A WebSocket whose ``Origin`` is neither this
  server's own (the ``Host`` it was called by) nor in ``cors_origins`` is refused; clients that
  send no Origin (scripts) are let in.
- **CORS** (setting ``cors_origins``, empty by default): other sites' pages may call the REST API
  only from the origins listed there. There is no wildcard unless an operator writes one.
- **Host** (DNS rebinding): a page on an attacker's site can point its own host name at this
  server's address and then call it as a same-origin page would. Requests whose ``Host`` header
  names anything but an IP address, a localhost name, this machine's own names (when the server
  binds beyond the loopback) or one of ``allowed_hosts`` get 403, as Jupyter does.
- **Refused sockets** are accepted and then closed with 1008 and the reason, so that a client
  reads why (a socket refused before it opens only shows an HTTP 403 with no body).
- **Body size**: a body larger than ``max_message_bytes`` gets 413 naming the limit: at once if
  its Content-Length says so, else (a chunked body) as soon as it grows past the limit; the body
  is never held beyond the limit. The HTTP server holds a declared body to its Content-Length.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from server.api.settings import Settings

POLICY_VIOLATION = 1008  # WebSocket close code
LOOPBACK_BINDS = {"127.0.0.1", "::1", "localhost"}


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port or an IPv6 address's brackets; lowercase."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def default_hosts(bind: str) -> set[str]:
    """Host names allowed without the setting: localhost, and, when the server binds beyond the
    loopback (the whole network, or one of its addresses), this machine's own names."""
    names = {"localhost"}
    if bind not in LOOPBACK_BINDS:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return names


async def refuse_socket(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    """Open the socket only to close it with 1008 and ``reason``, which a client can read."""
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.close(POLICY_VIOLATION, reason)


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[-1] if values else None


def _header_token(headers: Headers) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _declared_length(headers: Headers) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0  # not a number: the server's HTTP layer refuses it


class Guard:
    """ASGI middleware enforcing the token, the WebSocket Origin check and the body size
    (module docstring).

    Args:
        app: the application it guards.
        token: the shared secret, or None for no token.
        origins: origins allowed besides the server's own (``cors_origins``).
        max_body: the most bytes a request body may declare (``max_message_bytes``).
        hosts: host names a ``Host`` header may name besides IP addresses and localhost names
            (:func:`default_hosts` and ``allowed_hosts``).
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        origins: list[str],
        max_body: int,
        hosts: set[str],
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.origins = {o.rstrip("/") for o in origins}
        self.max_body = max_body
        self.hosts = {h.lower() for h in hosts}

    def host_allowed(self, name: str) -> bool:
        """An IP address (no rebinding names one), a localhost name, or an allowed name."""
        return (
            "*" in self.hosts or name in self.hosts or name.endswith(".localhost") or _is_ip(name)
        )

    def origin_allowed(self, headers: Headers) -> bool:
        """No Origin (a script), the server's own, or one of ``cors_origins``."""
        origin = headers.get("origin")
        if origin is None or origin.rstrip("/") in self.origins or "*" in self.origins:
            return True
        return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()

    def token_given(self, scope: Scope, headers: Headers) -> bool:
        if self.token is None or not scope["path"].startswith("/api"):
            return True
        given = _header_token(headers) or _query_token(scope) or ""
        return hmac.compare_digest(given.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        name = host_name(headers.get("host", ""))
        if not self.host_allowed(name):
            reason = (
                f"this server does not answer to the host name {name!r} (the setting allowed_hosts)"
            )
            if scope["type"] == "websocket":
                await refuse_socket(scope, receive, send, reason)
            else:
                await JSONResponse({"detail": reason}, status_code=403)(scope, receive, send)
            return
        if scope["type"] == "websocket":
            if not self.origin_allowed(headers):
                reason = "this origin may not open a live socket (the setting cors_origins)"
                await refuse_socket(scope, receive, send, reason)
                return
            if not self.token_given(scope, headers):
                reason = "this server needs its token: add ?token=TOKEN"
                await refuse_socket(scope, receive, send, reason)
                return
        elif not self.token_given(scope, headers):
            detail = (
                "this server needs its token (the setting token): send "
                "'Authorization: Bearer TOKEN' or add ?token=TOKEN"
            )
            response = JSONResponse(
                {"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        elif (length := _declared_length(headers)) > self.max_body:
            await self.too_large(length)(scope, receive, send)
            return
        elif "content-length" not in headers and scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self.read_chunked(receive)
            if isinstance(body, int):
                await self.too_large(body)(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def too_large(self, length: int) -> JSONResponse:
        detail = (
            f"the body is {length} bytes or more; the limit is max_message_bytes = "
            f"{self.max_body} (SUPERPOSITION_LIMITS__MAX_MESSAGE_BYTES)"
        )
        return JSONResponse({"detail": detail}, status_code=413)

    async def read_chunked(self, receive: Receive) -> bytes | int:
        """A body without Content-Length, or its size so far once it passes the limit."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return size
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The server's receive, with the body already read handed over first."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # from now on: the client leaving

    return replay


def protect(app: FastAPI, settings: Settings) -> None:
    """Install the guard, and CORS for ``cors_origins`` when there are any (outermost, so that
    preflight requests are answered before the token is asked for)."""
    token = settings.token.get_secret_value() if settings.token else None
    app.add_middleware(
        Guard,
        token=token,
        origins=settings.cors_origins,
        max_body=settings.limits.max_message_bytes,
        hosts=default_hosts(settings.host) | set(settings.allowed_hosts),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
