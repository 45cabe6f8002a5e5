"""Serving the built web UI (`webui/dist`, made by `make webui`) from the query service at `/`.

Files of the build are served as they are (hashed `assets/*` cached for a year, everything else
revalidated); any other path without a file extension is a client route of the single-page app
and gets `index.html`. The service's own routes (`/graphql`, `/healthz`, ...) are matched before
these and are never shadowed: paths under them that no route answered stay 404 here too.

Without a build, `/` explains how to make one instead of failing obscurely.
"""

import logging
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from config import Settings

logger = logging.getLogger(__name__)

DEFAULT_DIST_DIR = Path(__file__).resolve().parent.parent / "webui" / "dist"
"""Where `make webui` puts the build, in a checkout."""

_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"

_MISSING_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TrackMint: web UI not built</title>
<style>body{{font:15px/1.6 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}}
code{{background:#f1f3f6;padding:.1rem .35rem;border-radius:4px}}</style></head>
<body><h1>The web UI is not built</h1>
<p>The query service serves the web UI from <code>{dist}</code>, which does not exist.</p>
<p>Build it with <code>make webui</code> (it needs Node.js; <code>make run</code> does it for you),
then reload this page. The GraphQL API is at <a href="/graphql"><code>/graphql</code></a>.</p>
</body></html>
"""


def dist_dir(settings: Settings) -> Path:
    return settings.webui_dist_dir if settings.webui_dist_dir is not None else DEFAULT_DIST_DIR


def webui_routes(settings: Settings, reserved_paths: Iterable[str]) -> list[BaseRoute]:
    """Routes serving the web UI; mount them after every other route, whose paths are `reserved_paths`."""
    dist = dist_dir(settings)
    reserved = {path.strip("/").split("/")[0] for path in reserved_paths if path.strip("/")}
    if not (dist / "index.html").is_file():
        logger.warning("web UI not built: %s has no index.html (run `make webui`)", dist)

    async def serve(request: Request) -> Response:
        return _serve(request, dist, reserved)

    return [Route("/{path:path}", serve, methods=["GET", "HEAD"], name="webui")]


def _serve(request: Request, dist: Path, reserved: set[str]) -> Response:
    path = request.path_params.get("path", "")
    parts = PurePosixPath("/" + path).parts[1:]
    if parts and parts[0] in reserved:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    index = dist / "index.html"
    if not index.is_file():
        return _missing(request, dist)
    if ".." not in parts and parts:
        candidate = dist.joinpath(*parts)
        if candidate.is_file():
            cache = _IMMUTABLE if parts[0] == "assets" else _REVALIDATE
            return FileResponse(candidate, headers={"Cache-Control": cache})
    # A missing file (an old hashed asset, a typo) is a 404; an extension-less path is a client route.
    if parts and ("." in parts[-1] or parts[0] == "assets"):
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    return FileResponse(index, headers={"Cache-Control": _REVALIDATE})


def _missing(request: Request, dist: Path) -> Response:
    message = f"the web UI is not built: {dist} does not exist; build it with `make webui`"
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_MISSING_HTML.format(dist=dist), status_code=503)
    return JSONResponse({"detail": message, "build": "make webui"}, status_code=503)
