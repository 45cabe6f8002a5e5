"""The browser snippet as the HTTP bridge serves it at /sdk/trackmint.js: sdk/js/src/trackmint.js,
minified once per process, with an ETag so browsers revalidate for free.

The source is read from the repository checkout (the server runs from it, like `make run`); it is
minified with rjsmin, which strips comments and whitespace without renaming, so the served script
stays readable in a browser's debugger.
"""

import functools
import gzip
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import rjsmin
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

logger = logging.getLogger(__name__)

SOURCE_PATH = Path(__file__).resolve().parent.parent / "sdk" / "js" / "src" / "trackmint.js"
"""Where the unminified snippet lives in the checkout."""

MEDIA_TYPE = "application/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=300"
"""Short enough that a server upgrade reaches browsers within minutes; the ETag makes revalidation cheap."""


class SnippetNotFoundError(FileNotFoundError):
    """The snippet's source file is missing (a server installed without its sdk/js folder)."""


@dataclass(frozen=True)
class Snippet:
    body: bytes
    etag: str

    @property
    def gzip_size(self) -> int:
        return len(gzip.compress(self.body, compresslevel=9))

    def headers(self) -> dict[str, str]:
        """Response headers for serving the snippet."""
        return {"Content-Type": MEDIA_TYPE, "Cache-Control": CACHE_CONTROL, "ETag": self.etag}

    def matches(self, if_none_match: str | None) -> bool:
        """Whether a request's If-None-Match names this version (answer 304 Not Modified then)."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


def build_snippet(source: str) -> Snippet:
    """Minify a snippet source and compute its ETag (a hash of the minified bytes)."""
    body = rjsmin.jsmin(source).encode("utf-8")
    return Snippet(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@functools.cache
def load_snippet(path: Path = SOURCE_PATH) -> Snippet:
    """The minified snippet, built once per process from the file at `path`."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise SnippetNotFoundError(f"the browser snippet source {path} is missing") from error
    return build_snippet(source)


SCRIPT_PATH = "/sdk/trackmint.js"
"""Where the bridge serves the snippet; the README's loader snippet points here."""


def snippet_routes(path: Path = SOURCE_PATH) -> list[Route]:
    """The bridge route serving the snippet (GET and HEAD, 304 on a matching If-None-Match).

    The snippet is built here, at startup, so a broken source shows in the log at once. A server
    installed without the sdk/js folder still starts (events matter more than the script) and
    answers 404 with the reason.
    """
    try:
        snippet = load_snippet(path)
    except SnippetNotFoundError as error:
        logger.error("not serving %s: %s", SCRIPT_PATH, error)
        message = f"{error}; install TrackMint from its source tree to serve the browser snippet"

        async def missing(request: Request) -> Response:
            return PlainTextResponse(message, status_code=404)

        return [Route(SCRIPT_PATH, missing, methods=["GET", "HEAD"])]

    async def serve(request: Request) -> Response:
        if snippet.matches(request.headers.get("if-none-match")):
            return Response(status_code=304, headers={"ETag": snippet.etag, "Cache-Control": CACHE_CONTROL})
        return Response(snippet.body, headers=snippet.headers())

    return [Route(SCRIPT_PATH, serve, methods=["GET", "HEAD"])]
