"""The snippet as the bridge serves it: minified under 15 KiB, with caching headers and revalidation."""

import gzip
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from ingest.server import IngestServer
from ingest.snippet import SOURCE_PATH, SnippetNotFoundError, build_snippet, load_snippet, snippet_routes

MAX_MINIFIED_BYTES = 15 * 1024


def test_minified_snippet_is_under_15_kib() -> None:
    snippet = load_snippet()
    source = SOURCE_PATH.read_bytes()
    assert len(snippet.body) < MAX_MINIFIED_BYTES, f"minified snippet is {len(snippet.body)} bytes"
    assert len(snippet.body) < 0.8 * len(source)  # comments and indentation are gone
    assert snippet.gzip_size == len(gzip.compress(snippet.body, compresslevel=9))
    assert b"Usage and the loader snippet" not in snippet.body


def test_etag_follows_the_content() -> None:
    first, same, changed = build_snippet("var a = 1;"), build_snippet("var a  =  1; // note"), build_snippet("var a=2;")
    assert first.etag == same.etag != changed.etag
    assert first.matches(first.etag) and first.matches(f'W/{first.etag}, "other"') and first.matches("*")
    assert not first.matches(changed.etag) and not first.matches(None)


async def test_bridge_serves_the_snippet_with_caching_headers_and_answers_304_when_unchanged(
    ingest_server: IngestServer,
) -> None:
    snippet = load_snippet()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest_server.bridge_port}") as http:
        response = await http.get("/sdk/trackmint.js")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/javascript")
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["etag"] == snippet.etag
        assert response.content == snippet.body

        revalidated = await http.get("/sdk/trackmint.js", headers={"If-None-Match": snippet.etag})
        assert (revalidated.status_code, revalidated.content) == (304, b"")
        assert revalidated.headers["etag"] == snippet.etag

        stale = await http.get("/sdk/trackmint.js", headers={"If-None-Match": '"an-older-version"'})
        assert stale.status_code == 200


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "trackmint.js"
    with pytest.raises(SnippetNotFoundError, match=r"browser snippet source .*trackmint\.js is missing"):
        load_snippet(missing)


async def test_route_without_its_source_answers_404_with_the_reason(tmp_path: Path) -> None:
    app = Starlette(routes=snippet_routes(tmp_path / "trackmint.js"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as http:
        response = await http.get("/sdk/trackmint.js")
    assert response.status_code == 404
    assert "is missing; install TrackMint from its source tree" in response.text
