"""The query service serves the built web UI at `/` without shadowing its own routes."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from config import Settings
from tests.query.servers import start_server, stop_server

INDEX = "<!doctype html><html><body><div id=root></div><script src=/assets/app-1a2b.js></script></body></html>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A stand-in for `webui/dist`: index.html, a hashed script and a favicon."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-1a2b.js").write_text("console.log('trackmint')")
    (root / "assets" / "app-1a2b.css").write_text("body{}")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return root


async def _client(settings: Settings, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    server, task, url = await start_server(settings.model_copy(update={"webui_dist_dir": dist}))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            yield http
    finally:
        await stop_server(server, task)


@pytest.fixture
async def http(settings: Settings, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(settings, dist):
        yield client


@pytest.fixture
async def http_without_build(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(settings, tmp_path / "not-built"):
        yield client


async def test_assets_are_served_with_their_content_type_and_long_caching(http: httpx.AsyncClient) -> None:
    script = await http.get("/assets/app-1a2b.js")
    style = await http.get("/assets/app-1a2b.css")
    icon = await http.get("/favicon.svg")

    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert script.text == "console.log('trackmint')"
    assert "immutable" in script.headers["cache-control"]
    assert style.headers["content-type"].startswith("text/css")
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.headers["cache-control"] == "no-cache"


async def test_root_and_client_routes_get_index_html(http: httpx.AsyncClient) -> None:
    for path in ("/", "/overview", "/api-keys", "/persons/5f0c/journey?x=1"):
        response = await http.get(path)
        assert (path, response.status_code) == (path, 200)
        assert response.headers["content-type"].startswith("text/html")
        assert response.text == INDEX
        assert response.headers["cache-control"] == "no-cache"


async def test_missing_files_and_paths_outside_the_build_are_404(http: httpx.AsyncClient, dist: Path) -> None:
    (dist.parent / "secret.txt").write_text("not for the web")
    for path in ("/assets/app-0000.js", "/robots.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"):
        response = await http.get(path)
        assert (path, response.status_code) == (path, 404)


async def test_service_routes_are_not_shadowed(http: httpx.AsyncClient) -> None:
    graphql = await http.post("/graphql", json={"query": "{ __typename }"})
    graphiql = await http.get("/graphql", headers={"Accept": "text/html"})
    health = await http.get("/healthz")
    under_graphql = await http.get("/graphql/overview")

    assert graphql.json() == {"data": {"__typename": "Query"}}
    assert "graphiql" in graphiql.text.lower()
    assert health.json() == {"status": "ok"}
    assert under_graphql.status_code == 404
    assert under_graphql.text != INDEX


async def test_without_a_build_the_root_says_how_to_make_one(http_without_build: httpx.AsyncClient) -> None:
    page = await http_without_build.get("/", headers={"Accept": "text/html"})
    api = await http_without_build.get("/overview", headers={"Accept": "application/json"})
    health = await http_without_build.get("/healthz")

    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "make webui" in page.text
    assert (api.status_code, api.json()["build"]) == (503, "make webui")
    assert "not built" in api.json()["detail"]
    assert health.status_code == 200
