"""Destinations in a real browser: an ADMIN creates one (its signing secret shown once) for a real local
HTTP target, events sent with the SDK arrive there signed, and the page shows the delivery state; a test
batch is sent from the page."""

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from config import Settings
from destinations.service import start_destinations
from tests.destinations.conftest import Target, target, wait_for  # noqa: F401 (a real HTTP target)
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, new_email, set_up_tenant, shoot
from trackmint_sdk import Client
from webhooks.signing import verify


@pytest.fixture
async def destinations_service(settings: Settings) -> AsyncIterator[None]:
    service = await start_destinations(settings.model_copy(update={
        "destinations_lock_key": secrets.randbits(62), "destinations_refresh_seconds": 0.2,
        "destinations_leader_retry_seconds": 0.2, "destinations_fetch_timeout_seconds": 0.2,
    }))
    try:
        yield
    finally:
        await service.stop()


def send(system: System, key: str) -> None:
    client = Client(key, system.ingest_endpoint)
    try:
        for user in ("ada", "grace", "linus"):
            client.track("signup", user_id=user, properties={"plan": "pro"})
        client.track("page_view", user_id="ada")
        assert client.flush(30)
    finally:
        client.close()


async def test_an_admin_creates_a_destination_and_sees_it_deliver(
    page: Page, system: System, target: Target, destinations_service: None, screenshots: Path  # noqa: F811
):
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        _token, project_id, key = await set_up_tenant(http, email, "Hooks Inc", "Shop", "UTC")
    await page.goto(system.url + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_test_id("user-role")).to_be_visible()
    await page.goto(f"{system.url}/destinations?project={project_id}")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No destinations yet")

    form = page.get_by_role("form", name="Create destination")
    await form.get_by_label("Name", exact=True).fill("Warehouse")
    await form.get_by_label("URL", exact=True).fill(f"{target.url}/hook")
    await form.get_by_label("Event names (comma separated; empty: every event)").fill("signup")
    await form.get_by_role("button", name="Add property condition").click()
    await form.get_by_label("Property").fill("plan")
    await form.get_by_label("Value").fill("pro")
    await form.get_by_role("button", name="Create destination").click()
    secret = page.get_by_test_id("destination-secret-value")
    await expect(secret).to_have_text(re.compile(r"^whsec_[0-9a-f]{64}$"))
    signing_secret = (await secret.text_content() or "").strip()
    row = page.locator("tr[data-destination-id]")
    await expect(row.get_by_test_id("destination-state")).to_have_text("Waiting for events")

    await asyncio.to_thread(send, system, key)
    await wait_for(lambda: len(target.events("/hook")) == 3, within=30)
    [post] = target.accepted("/hook")[:1]
    assert verify(signing_secret, post.headers["x-trackmint-signature"], post.body, int(time.time()))
    assert {event["distinctId"] for event in target.events("/hook")} == {"ada", "grace", "linus"}

    await page.get_by_role("button", name="Refresh").click()
    await expect(row.get_by_test_id("destination-state")).to_have_text("Healthy", timeout=15_000)
    await expect(row.get_by_test_id("destination-delivered")).to_have_text("3")
    await row.get_by_role("button", name="Test").click()
    await expect(row.get_by_test_id("test-outcome")).to_have_text("Test delivered (200)")
    await row.get_by_role("button", name="Failures & dead letters").click()
    await expect(page.get_by_test_id("destination-details")).to_contain_text("No dead letters")
    await shoot(page, screenshots, "destinations")
