"""The destinations service's operations endpoints: readiness, and per-destination delivery metrics."""

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from config import Settings
from destinations.service import start_destinations
from tests.destinations.conftest import Target, add_destination, person_events, refused_url, wait_for
from tests.query.tenant import CreatedProject


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def test_metrics_count_each_destinations_deliveries_and_failures(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish
):
    healthy = await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    dead = await add_destination(db, dest_settings, project.project_id, refused_url())
    service = await start_destinations(dest_settings.model_copy(update={"destinations_ops_port": 0}))
    try:
        assert service.ops is not None
        url = f"http://127.0.0.1:{service.ops.port}"
        await publish(project.project_id, person_events(3, 4))
        await wait_for(lambda: len(target.events("/hook")) == 12)
        async with httpx.AsyncClient(timeout=10) as http:
            ready = await http.get(f"{url}/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"event_stream": "ok", "database": "ok"}

            async def scrape() -> dict:
                return samples((await http.get(f"{url}/metrics")).text)

            async def dead_target_tried() -> bool:
                return _failed(await scrape(), dead.id) > 0

            await wait_for(dead_target_tried)
            found = await scrape()
        label = (("destination", str(healthy.id)),)
        assert found[("trackmint_destinations_delivered_events_total", label)] == 12
        assert found[("trackmint_destinations_failed_attempts_total", label)] == 0
        assert _failed(found, dead.id) > 0
        assert found[("trackmint_destinations_delivered_events_total", (("destination", str(dead.id)),))] == 0
        assert found[("trackmint_destinations_workers", ())] == 2
        assert found[("trackmint_destinations_leader", ())] == 1
    finally:
        await service.stop()


def _failed(found: dict, destination_id: object) -> float:
    return found.get(("trackmint_destinations_failed_attempts_total", (("destination", str(destination_id)),)), 0)

