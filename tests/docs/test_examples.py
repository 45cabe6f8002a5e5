"""Every code example in docs/ runs against a real system and does what the text around it says.

Python and shell blocks run as subprocesses, GraphQL blocks are posted (queries, mutations) or
subscribed over graphql-transport-ws (subscriptions), JavaScript runs with node, the browser snippet
in Chromium. Placeholders and `make run`'s addresses are substituted first (tests/docs/conftest.py).
Some examples have a further check of what they must have done (`CHECKS`).
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import nats
import orjson
import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from playwright.async_api import async_playwright

from alerting.notices import Notice, notice_payload
from alerting.signing import signature_header, webhook_secret
from messaging.names import Names
from query.schema import create_schema
from tests.alerting.conftest import Receiver
from tests.browser.pages import VISITOR_USER_AGENT
from tests.browser.servers import SiteServer
from tests.docs.conftest import DocsSystem
from tests.docs.examples import (
    DOCS,
    MANUAL,
    Block,
    executed_blocks,
    placeholders_in,
    problems_of,
    read_blocks,
    unread_fences,
)
from tests.live.ws_client import bearer, graphql_websocket

ROOT = DOCS.parent
BLOCKS = read_blocks()
EXECUTED = executed_blocks(BLOCKS)
CHROMIUM = "/usr/bin/chromium"


def test_every_block_in_docs_is_executed_or_explicitly_not():
    assert unread_fences() == []
    assert problems_of(read_blocks()) == []
    assert len(EXECUTED) >= 40, [block.where for block in EXECUTED]


def test_the_convention_refuses_blocks_that_would_go_unexecuted(tmp_path: Path):
    (tmp_path / "bad.md").write_text(
        "```ruby\nputs 1\n```\n\n```python\nprint(1)\n```\n\n```\nno language\n```\n\n"
        "```json variables=nowhere\n{}\n```\n\n```text id=x\nout\n```\n\n```sh id=y manual\nmake run\n```\n",
        encoding="utf-8",
    )
    problems = "\n".join(problems_of(read_blocks(tmp_path)))
    assert "language 'ruby'" in problems and "language ''" in problems
    assert "```python block without an id" in problems
    assert "`variables=<id>` of a graphql block" in problems
    assert "```text block is never executed" in problems
    assert "'y' is marked manual but not listed in MANUAL" in problems
    (tmp_path / "bad.md").write_text("```python id=z\nprint(1)\n````\n\n  ```sh id=w\ntrue\n", encoding="utf-8")
    assert unread_fences(tmp_path) == ["docs/bad.md: 3 fence lines but 0 complete ``` blocks"]


def _operations(block: Block) -> list[OperationDefinitionNode]:
    return [node for node in parse(block.code).definitions if isinstance(node, OperationDefinitionNode)]


def _root_fields(path_name: str, operation: OperationType) -> set[str]:
    fields = set()
    for block in EXECUTED:
        if block.language == "graphql" and block.path.name == path_name:
            for node in _operations(block):
                if node.operation == operation:
                    fields |= {selection.name.value for selection in node.selection_set.selections}
    return fields


def test_the_graphql_guide_shows_every_query_and_subscription_field():
    schema = create_schema()._schema
    for operation, root in ((OperationType.QUERY, schema.query_type), (OperationType.SUBSCRIPTION,
                                                                         schema.subscription_type)):
        missing = set(root.fields) - _root_fields("graphql.md", operation)
        assert not missing, f"docs/graphql.md has no executed example of {operation.value} fields {sorted(missing)}"


def test_the_graphql_guide_shows_the_main_mutations():
    shown = _root_fields("graphql.md", OperationType.MUTATION)
    main = {"login", "refreshToken", "logout", "register", "createProject", "updateProject", "deleteProject",
            "createApiKey", "rotateApiKey", "revokeApiKey", "updateProjectSettings", "inviteMember",
            "setTraitMapping", "defineEventSchema", "replayRejectedEvents", "createAlertRule", "createAlertChannel",
            "markAlertEventsRead"}
    assert main <= shown, sorted(main - shown)


async def test_graphiql_is_served_at_slash_graphql(docs_system: DocsSystem):
    import httpx

    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{docs_system.query_url}/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


# --- running one block ---------------------------------------------------------------------------------


def _env(system: DocsSystem) -> dict[str, str]:
    return {**os.environ, "TRACKMINT_DATABASE_URL": system.settings.database_url,
            "TRACKMINT_NATS_URL": system.settings.nats_url or "", "PYTHONPATH": str(ROOT)}


async def _run(args: list[str], system: DocsSystem, cwd: Path, stdin: str | None = None) -> str:
    result = await asyncio.to_thread(
        subprocess.run, args, cwd=cwd, env=_env(system), input=stdin, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 0, f"{args[0]} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


async def _substituted(system: DocsSystem, block: Block, text: str | None = None) -> str:
    code = await system.substitute(block.code if text is None else text)
    unknown = placeholders_in(code)
    assert not unknown, f"{block.where}: placeholders without a value {sorted(unknown)} (docs/README.md lists them)"
    return code


async def run_python(system: DocsSystem, block: Block, tmp_path: Path, suffix: str = "") -> str:
    script = tmp_path / f"{block.id}.py"
    script.write_text(await _substituted(system, block) + suffix, encoding="utf-8")
    return await _run([sys.executable, str(script)], system, tmp_path)


_SH_PRELUDE = """set -euo pipefail
# A non-2xx answer fails the example (the body is still shown).
curl() { command curl --fail-with-body --show-error "$@"; }
"""


async def run_sh(system: DocsSystem, block: Block, tmp_path: Path) -> str:
    # In a directory of its own, so files an example saves (`curl -o report.pdf`) stay out of the repository;
    # the project's virtualenv is there as in a clone, for the commands run from one.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    output = await _run(["bash", "-c", _SH_PRELUDE + await _substituted(system, block)], system, tmp_path)
    assert '"errors":[{"message"' not in output.replace(" ", ""), output  # GraphQL errors
    assert '"success":false' not in output.replace(" ", ""), output
    return output


async def run_js(system: DocsSystem, block: Block, tmp_path: Path, node_modules: Path) -> str:
    (tmp_path / "node_modules").symlink_to(node_modules, target_is_directory=True)
    (tmp_path / "example.mjs").write_text(await _substituted(system, block), encoding="utf-8")
    # Node 22+ has WebSocket built in; Node 20 needs the flag (docs/graphql.md says so).
    flags = ["--experimental-websocket"] if _node_major() < 22 else []
    return await _run(["node", *flags, "example.mjs"], system, tmp_path)


def _node_major() -> int:
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    return int(version.strip().lstrip("v").split(".")[0])


async def run_graphql(system: DocsSystem, block: Block) -> dict:
    variables = json.loads(await _substituted(system, block.variables)) if block.variables else {}
    query = await _substituted(system, block)
    operations = _operations(block)
    assert len(operations) == 1, f"{block.where}: one operation per block"
    if operations[0].operation != OperationType.SUBSCRIPTION:
        result = await system.graphql(query, variables)
        assert "errors" not in result, f"{block.where}: {result}"
        assert result["data"], result
        return result["data"]
    async with graphql_websocket(system.query_url, bearer(system.access_token)) as ws:
        await ws.subscribe(query, **variables)
        await asyncio.sleep(0.5)  # subscribed (on NATS too) before anything is sent
        trigger = asyncio.create_task(_trigger_pushes(system, query))
        try:
            data = await ws.next_data(within=15)
        finally:
            await trigger
    assert data, block.where
    return data


async def _trigger_pushes(system: DocsSystem, query: str) -> None:
    """What makes an event-driven subscription push: an event sent, an alert notice published."""
    await asyncio.to_thread(_track_over_the_bridge, system, "Subscription Example")
    if "alertFired" in query:
        notice = Notice(uuid.uuid4(), uuid.UUID(system.project_id), "My SaaS", None, "Signups", "test",
                        "A test notice", datetime.now(UTC))
        connection = await nats.connect(system.settings.nats_url)
        try:
            subject = Names(system.settings.nats_namespace).alerts_subject(system.project_id)
            await connection.publish(subject, orjson.dumps(notice_payload(notice)))
            await connection.flush()
        finally:
            await connection.close()


def _track_over_the_bridge(system: DocsSystem, event: str) -> None:
    import httpx

    response = httpx.post(f"{system.bridge_url}/v1/track", auth=(system.write_key, ""), timeout=10,
                          json={"userId": "ada", "event": event})
    assert response.status_code == 200, response.text


async def run_html(system: DocsSystem, block: Block) -> None:
    html = await _substituted(system, block)
    site = SiteServer().start()  # a shop on another port, so another origin than the bridge
    site.pages["/pricing"] = f"<!doctype html><html><head>{html}</head><body><h1>Pricing</h1></body></html>"
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                context = await browser.new_context(user_agent=VISITOR_USER_AGENT)
                context.set_default_timeout(10_000)
                page = await context.new_page()
                before = len(await system.stored_events(event="$pageview"))
                await page.goto(f"{site.url}/pricing?utm_source=docs")
                await page.wait_for_function("window.trackmint && window.trackmint.__trackmint === true")
                await page.evaluate("trackmint.flush()")
                await system.wait_for_events(before + 1, event="$pageview", within=15)
            finally:
                await browser.close()
    finally:
        site.stop()


# --- what particular examples must have done ------------------------------------------------------------

def _signed_cases() -> list[dict]:
    """Real signatures from alerting/signing.py: valid, tampered, wrong secret, too old."""
    secret = webhook_secret("a server secret of at least thirty-two characters", b"\x01" * 16)
    body = orjson.dumps({"id": "1", "type": "fired", "ruleName": "Signups", "value": 9.0}).decode()
    now = int(time.time())
    valid = signature_header(secret, now, body.encode())
    return [
        {"secret": secret, "header": valid, "body": body, "expected": True},
        {"secret": secret, "header": valid, "body": body.replace("9.0", "90.0"), "expected": False},
        {"secret": secret.replace("whsec_", "whsec_0"), "header": valid, "body": body, "expected": False},
        {"secret": secret, "header": signature_header(secret, now - 3600, body.encode()), "body": body,
         "expected": False},
        {"secret": secret, "header": "v1=deadbeef", "body": body, "expected": False},
    ]


_PY_VERIFY_DRIVER = """
import json as _json, sys as _sys
_results = [verify_signature(c["secret"], c["header"], c["body"].encode()) for c in _json.load(_sys.stdin)]
print(_json.dumps(_results))
"""

_JS_VERIFY_DRIVER = """
import { readFileSync } from "node:fs";
import { verifySignature } from "./example.mjs";
const cases = JSON.parse(readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map((c) => verifySignature(c.secret, c.header, c.body))));
"""


async def _python_verifier_results(system: DocsSystem, block: Block, tmp_path: Path, cases: list[dict]) -> list:
    script = tmp_path / "verify.py"
    script.write_text(await _substituted(system, block) + _PY_VERIFY_DRIVER, encoding="utf-8")
    output = await _run([sys.executable, str(script)], system, tmp_path, stdin=json.dumps(cases))
    return json.loads(output.strip().splitlines()[-1])


async def _js_verifier_results(system: DocsSystem, block: Block, tmp_path: Path, cases: list[dict]) -> list:
    (tmp_path / "example.mjs").write_text(await _substituted(system, block), encoding="utf-8")
    (tmp_path / "driver.mjs").write_text(_JS_VERIFY_DRIVER, encoding="utf-8")
    output = await _run(["node", "driver.mjs"], system, tmp_path, stdin=json.dumps(cases))
    return json.loads(output.strip().splitlines()[-1])


async def _check_python_verifier(system: DocsSystem, block: Block, tmp_path: Path, node_modules: Path) -> None:
    cases = _signed_cases()
    assert await _python_verifier_results(system, block, tmp_path, cases) == [case["expected"] for case in cases]


async def _check_js_verifier(system: DocsSystem, block: Block, tmp_path: Path, node_modules: Path) -> None:
    cases = _signed_cases()
    assert await _js_verifier_results(system, block, tmp_path, cases) == [case["expected"] for case in cases]


Check = Callable[[DocsSystem, object], Awaitable[None]]


def _events_stored(count: int, **where: str) -> Check:
    async def check(system: DocsSystem, _outcome: object) -> None:
        await system.wait_for_events(count, **where)
    return check


def _answers(*expected: str) -> Check:
    async def check(_system: DocsSystem, outcome: object) -> None:
        text = outcome if isinstance(outcome, str) else json.dumps(outcome)
        for part in expected:
            assert part in text, f"{part!r} not in {text[:2000]}"
    return check


AFTER_RUN: dict[str, Check] = {
    "quickstart-python": _events_stored(1, event="Signed Up", user_id="user-1"),
    "quickstart-curl": _events_stored(1, event="Order Completed", user_id="grace"),
    "quickstart-login": _answers('"accessToken"', '"refreshToken"'),
    "quickstart-events-curl": _answers('"event":"Order Completed","userId":"grace"'),
    "quickstart-events": _answers('"event": "Order Completed", "userId": "grace"'),
    "events-python": _events_stored(1, event="Checkout Started", user_id="user-42"),
    "events-bridge-batch": _events_stored(1, event="Plan Upgraded", user_id="ada"),
    "events-bridge-rejection": _answers('"accepted":1', '"code":"missing_identity"'),
    "graphql-ws-js": _answers("activePersons"),
}
"""Examples that send events: what must be stored afterwards (besides the example exiting cleanly)."""

INSTEAD = {
    "verify-webhook-python": _check_python_verifier,
    "verify-webhook-js": _check_js_verifier,
    "verify-destination-python": _check_python_verifier,
    "verify-destination-js": _check_js_verifier,
}
"""Examples that define a function rather than do something: run with a driver that calls it."""


@pytest.mark.parametrize("block", EXECUTED, ids=[block.id for block in EXECUTED])
async def test_example(block: Block, docs_system: DocsSystem, tmp_path: Path, node_modules: Path):
    outcome: object = None
    if block.id in INSTEAD:
        await INSTEAD[block.id](docs_system, block, tmp_path, node_modules)
    elif block.language == "python":
        outcome = await run_python(docs_system, block, tmp_path)
    elif block.language == "sh":
        outcome = await run_sh(docs_system, block, tmp_path)
    elif block.language == "js":
        outcome = await run_js(docs_system, block, tmp_path, node_modules)
        assert outcome.strip(), f"{block.where}: printed nothing"
    elif block.language == "graphql":
        outcome = await run_graphql(docs_system, block)
    elif block.language == "html":
        await run_html(docs_system, block)
    else:  # pragma: no cover - problems_of refuses other languages
        raise AssertionError(f"{block.where}: no runner for {block.language}")
    if block.id in AFTER_RUN:
        await AFTER_RUN[block.id](docs_system, outcome)


def test_manual_blocks_name_what_covers_them():
    for reason in MANUAL.values():
        assert "tests/" in reason


async def test_the_documented_verifiers_accept_a_real_test_delivery(
    docs_system: DocsSystem, receiver: Receiver, tmp_path: Path
):
    created = await docs_system.graphql(
        "mutation($p: ID!, $url: String!) { createAlertChannel(kind: WEBHOOK, name: \"Docs hook\", projectId: $p,"
        " url: $url) { webhookSecret channel { id } } }",
        {"p": docs_system.project_id, "url": f"{receiver.url}/hook"},
    )
    secret = created["data"]["createAlertChannel"]["webhookSecret"]
    channel_id = created["data"]["createAlertChannel"]["channel"]["id"]
    tested = await docs_system.graphql(
        "mutation($id: ID!, $p: ID!) { testChannel(id: $id, projectId: $p) { ok } }",
        {"id": channel_id, "p": docs_system.project_id},
    )
    assert tested["data"]["testChannel"]["ok"] is True, tested
    [post] = receiver.on("/hook")
    header, body = post.headers["x-trackmint-signature"], post.body.decode()
    assert json.loads(body)["type"] == "test"
    cases = [
        {"secret": secret, "header": header, "body": body},
        {"secret": secret, "header": header, "body": body.replace('"test"', '"fired"')},
    ]
    by_id = {block.id: block for block in EXECUTED}
    for results in (
        await _python_verifier_results(docs_system, by_id["verify-webhook-python"], tmp_path, cases),
        await _js_verifier_results(docs_system, by_id["verify-webhook-js"], tmp_path, cases),
    ):
        assert results == [True, False]


async def test_the_documented_destination_verifiers_accept_a_real_test_delivery(
    docs_system: DocsSystem, receiver: Receiver, tmp_path: Path
):
    created = await docs_system.graphql(
        "mutation($p: ID!, $url: String!) { createDestination(projectId: $p, input: {name: \"Docs\", url: $url})"
        " { secret destination { id } } }",
        {"p": docs_system.project_id, "url": f"{receiver.url}/destination"},
    )
    secret = created["data"]["createDestination"]["secret"]
    tested = await docs_system.graphql(
        "mutation($id: ID!) { testDestination(id: $id) { ok } }",
        {"id": created["data"]["createDestination"]["destination"]["id"]},
    )
    assert tested["data"]["testDestination"]["ok"] is True, tested
    [post] = receiver.on("/destination")
    header, body = post.headers["x-trackmint-signature"], post.body.decode()
    assert json.loads(body)["test"] is True
    cases = [
        {"secret": secret, "header": header, "body": body},
        {"secret": secret, "header": header, "body": body.replace("TrackMint Test", "TrackMint Tost")},
    ]
    by_id = {block.id: block for block in EXECUTED}
    for results in (
        await _python_verifier_results(docs_system, by_id["verify-destination-python"], tmp_path, cases),
        await _js_verifier_results(docs_system, by_id["verify-destination-js"], tmp_path, cases),
    ):
        assert results == [True, False]
