"""Which site origins may send a project's browser events, and the CORS headers that tell browsers so.

A project's `allowed_origins` are canonical `scheme://host[:port]` values (see
storage.projects.canonical_origin), a host may start with `*.` for every subdomain,
and an empty list allows every origin. Requests without an Origin header (server
libraries, curl) are not browser requests and are not restricted by origin.
"""

from urllib.parse import urlsplit

from ingest.http_bridge.errors import OriginNotAllowedError

PREFLIGHT_MAX_AGE_SECONDS = 86_400
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Content-Encoding"


def _canonical(origin: str) -> str:
    text = origin.strip().lower().rstrip("/")
    for scheme, port in (("http", ":80"), ("https", ":443")):
        if text.startswith(f"{scheme}://") and text.endswith(port):
            return text.removesuffix(port)
    return text


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    candidate = _canonical(origin)
    for entry in allowed:
        if entry == candidate:
            return True
        scheme, _, host = entry.partition("://*.")
        if host:
            parts = urlsplit(candidate)
            try:
                port = parts.port
            except ValueError:
                return False
            suffix, _, entry_port = host.partition(":")
            hostname = parts.hostname or ""
            if (parts.scheme == scheme and hostname.endswith("." + suffix)
                    and str(port or "") == entry_port):
                return True
    return False


def check_origin(origin: str | None, allowed: tuple[str, ...]) -> None:
    """Raise OriginNotAllowedError (403) for a browser request from an origin the project does not list."""
    if origin is not None and not origin_allowed(origin, allowed):
        raise OriginNotAllowedError(
            f"origin {origin!r} is not allowed to send events to this project; add it to the project's "
            "allowed origins"
        )


def cors_headers(origin: str | None) -> dict[str, str]:
    """Headers letting the browser at `origin` read the response (none for non-browser requests)."""
    if origin is None:
        return {}
    # Retry-After is not CORS-safelisted: without exposing it the snippet could not honour a 429's.
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Retry-After"}


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }
