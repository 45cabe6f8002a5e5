"""Ingest's schema registry on a real database: compiling, caching, outages, broken stored schemas."""

import asyncio
import json
import uuid

import fastjsonschema
import pytest

from ingest.errors import UnavailableError
from ingest.schemas import SchemaDefinitionError, SchemaRegistry, compile_schema, violation_text
from storage.database import create_pool
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.schemas.graphql import PRICE_SCHEMA


async def _store(db, project_id, event: str, schema: object, mode: str) -> None:
    await db.execute(
        "INSERT INTO event_schemas (project_id, event, json_schema, mode) VALUES ($1, $2, $3::jsonb, $4)"
        " ON CONFLICT (project_id, event) DO UPDATE SET json_schema = EXCLUDED.json_schema, mode = EXCLUDED.mode",
        project_id, event, json.dumps(schema), mode,
    )


def _reason(schema: dict, properties: object) -> str:
    try:
        fastjsonschema.compile(schema)(properties)
    except fastjsonschema.JsonSchemaValueException as error:
        return violation_text(error)
    raise AssertionError("the properties were valid")


def test_reasons_name_the_path_and_the_rule():
    assert _reason(PRICE_SCHEMA, {"price": "1", "currency": "EUR"}) == \
        "properties.price: must be number (schema rule type)"
    assert _reason({"properties": {"items": {"items": {"type": "integer"}}}}, {"items": [1, "x"]}) == \
        "properties.items[1]: must be integer (schema rule type)"
    assert _reason({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}) == \
        "properties: must not contain {'b'} properties (schema rule additionalProperties)"


def test_a_remote_ref_is_refused_without_being_fetched():
    with pytest.raises(SchemaDefinitionError, match="remote \\$ref"):
        compile_schema({"$ref": "http://169.254.169.254/latest/meta-data"})


async def test_a_stored_schema_that_does_not_compile_is_skipped_and_ingest_keeps_accepting(
    ingest_server, project, db
):
    await _store(db, project.project_id, "purchase", {"type": "nope"}, "REJECT")
    await _store(db, project.project_id, "signup", {"required": ["plan"]}, "REJECT")
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of([track_event("purchase"), track_event("signup")]),
                              metadata=auth(project.write_key))
    assert ack.accepted == 1
    assert [(r.index, r.reason) for r in ack.rejections] == [
        (1, "properties: must contain ['plan'] properties (schema rule required)")
    ]
    assert ingest_server.service.pipeline.schemas.stats.invalid_schemas == 1


async def test_schemas_in_off_mode_are_not_loaded(db, database_url, project):
    await _store(db, project.project_id, "purchase", PRICE_SCHEMA, "OFF")
    pool = await create_pool(database_url, size=1)
    try:
        assert await SchemaRegistry(pool, ttl=5).schemas_for(str(project.project_id)) == {}
    finally:
        await pool.close()


async def test_a_database_outage_keeps_the_compiled_schemas_and_refuses_unknown_projects(db, database_url, project):
    await _store(db, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    pool = await create_pool(database_url, size=1)
    registry = SchemaRegistry(pool, ttl=0.01)
    loaded = await registry.schemas_for(str(project.project_id))
    assert set(loaded) == {"purchase"}

    await pool.close()  # every later load fails, as in an outage
    await asyncio.sleep(0.05)

    assert await registry.schemas_for(str(project.project_id)) is loaded
    with pytest.raises(UnavailableError, match="event schemas"):
        await registry.schemas_for(str(uuid.uuid4()))


async def test_an_unchanged_schema_is_not_compiled_again(db, database_url, project):
    await _store(db, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    pool = await create_pool(database_url, size=1)
    try:
        registry = SchemaRegistry(pool, ttl=0.01)
        first = (await registry.schemas_for(str(project.project_id)))["purchase"]
        await asyncio.sleep(0.05)
        second = (await registry.schemas_for(str(project.project_id)))["purchase"]
        await _store(db, project.project_id, "purchase", {"type": "object"}, "WARN")
        await asyncio.sleep(0.05)
        third = (await registry.schemas_for(str(project.project_id)))["purchase"]
    finally:
        await pool.close()
    assert second.validate is first.validate
    assert third.validate is not first.validate and third.mode == "WARN"
