"""The JetStream streams are declared idempotently: created once, brought to the configured limits after."""

import asyncio

from nats.js.api import DiscardPolicy, StorageType

from messaging.names import Names
from messaging.streams import connect, ensure_streams, nats_servers


async def test_streams_are_created_with_the_configured_limits_and_redeclared_without_change(settings):
    file_settings = settings.model_copy(update={"stream_storage": "file", "stream_duplicate_window_seconds": 90})
    names = Names(settings.nats_namespace)
    nc = await connect(settings.nats_url, name="stream-tests")
    try:
        js = nc.jetstream()
        # Two services starting at once both declare the streams.
        await asyncio.gather(ensure_streams(js, file_settings), ensure_streams(js, file_settings))
        info = await js.stream_info(names.events_stream)
        assert info.config.subjects == [names.events_subjects]
        assert info.config.storage == StorageType.FILE
        # A full stream drops its oldest messages (stored ones: ingest/backlog.py refuses before an unstored
        # one could be), so a busy install never stops at the stream's size.
        assert info.config.discard == DiscardPolicy.OLD
        assert info.config.max_bytes == settings.stream_max_bytes
        assert info.config.duplicate_window == 90
        dead_letters = await js.stream_info(names.dead_letter_stream)
        assert dead_letters.config.subjects == names.dead_letter_subjects

        await js.publish(names.events_subject("p"), b"kept")
        await ensure_streams(js, file_settings)  # a restart re-declares: data stays
        assert (await js.stream_info(names.events_stream)).state.messages == 1
    finally:
        await nc.close()


async def test_changed_settings_update_the_existing_stream(settings):
    names = Names(settings.nats_namespace)
    nc = await connect(settings.nats_url, name="stream-tests")
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        smaller = settings.model_copy(update={"stream_max_bytes": 32 * 1024 * 1024, "stream_max_age_seconds": 3600})
        await ensure_streams(js, smaller)
        config = (await js.stream_info(names.events_stream)).config
        assert (config.max_bytes, config.max_age) == (32 * 1024 * 1024, 3600)
    finally:
        await nc.close()


def test_a_nats_url_may_list_every_node_of_a_cluster_separated_by_commas():
    assert nats_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    assert nats_servers("nats://a:4222, nats://b:4222,nats://c:4222,") == [
        "nats://a:4222", "nats://b:4222", "nats://c:4222"]
