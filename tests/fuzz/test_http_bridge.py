"""Fuzzing the Segment-compatible HTTP bridge with hostile JSON, bodies that are not JSON, and odd headers.

Properties, for every request to every ingest endpoint:
- the status is never 5xx;
- a 4xx has a JSON body `{"success": false, "code", "message"}` naming the problem;
- a 200 accounts for every message (accepted + one error, with a code and a reason, per refused message), the
  good message beside hostile ones is accepted, and the accepted messages are in JetStream.
"""

import base64
import gzip
import json
import secrets

import httpx
import orjson
import pytest
from hypothesis import event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ
from tests.fuzz.jetstream import StreamWatch
from tests.fuzz.strategies import JSON_VALUES, SEGMENT_TYPES, good_message, rarely, segment_messages

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

ENDPOINTS = ["/v1/batch", *(f"/v1/{kind}" for kind in SEGMENT_TYPES)]
_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
# Mostly what clients send, so most requests reach the pipeline; the rest is every way to get it wrong.
CONTENT_TYPES = rarely(
    st.sampled_from([None, "application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8"]),
    st.one_of(
        st.sampled_from(["APPLICATION/JSON", "text/plain", "", "application/xml", "multipart/form-data; boundary=x",
                         "application/x-www-form-urlencoded", ";", "application/json; charset=latin-1"]),
        st.text(_ASCII, max_size=20).map(str.strip),
    ),
    one_in=4,
)
ENCODINGS = rarely(st.just(None), st.sampled_from(["gzip", "x-gzip", "gzip-lie", "br", "deflate", "identity", "GZIP"]),
                   one_in=5)
AUTH = rarely(st.sampled_from(["basic", "bearer", "query", "body"]),
              st.sampled_from(["none", "garbage", "bad-base64"]), one_in=6)
_SHARED_CONTEXT = st.fixed_dictionaries({}, optional={
    "library": st.fixed_dictionaries({"name": st.text(_ASCII, max_size=10)}),
    "custom": st.integers(),
})


@st.composite
def json_bodies(draw: st.DrawFn, path: str) -> tuple[object, int | None]:
    """(body, index of the good message in it, or None when the body holds none)."""
    if draw(st.integers(0, 7)) == 0:
        return draw(JSON_VALUES), None
    if path != "/v1/batch":
        if draw(st.booleans()):
            message = good_message(path.removeprefix("/v1/"))
            message.pop("type")
            return message, 0
        return draw(segment_messages()), None
    messages = draw(st.lists(segment_messages(), max_size=6))
    good_index = draw(st.integers(0, len(messages)))
    messages.insert(good_index, good_message(draw(st.sampled_from(SEGMENT_TYPES))))
    body: dict = {"batch": messages}
    if draw(st.booleans()):
        body["context"] = draw(_SHARED_CONTEXT)
    if draw(st.booleans()):
        body["sentAt"] = draw(st.one_of(st.just("2026-01-01T00:00:00Z"), JSON_VALUES))
    return body, good_index


def _encode(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value).encode()


RAW_BODIES = st.one_of(
    st.binary(max_size=200),  # mostly invalid UTF-8 and not JSON
    st.tuples(st.sampled_from([orjson.dumps({"batch": [good_message()]}), orjson.dumps(good_message())]),
              st.integers(0, 200)).map(lambda cut: cut[0][:cut[1]]),  # truncated JSON
    st.sampled_from([
        b"", b" ", b"null", b"[]", b"\xef\xbb\xbf{}", b'{"batch": [{"type": "track", "event": "caf\xe9"}]}',
        b'{"batch": [], "a": "\\ud800"}', b'{"a": 1e99999}', b"[" * 50_000 + b"]" * 50_000, b'{"batch": NaN}',
        b"{" + b'"k": 1, ' * 20_000 + b'"batch": []}',  # over the 64 KiB limit
        b'{"batch": [' + b'{"type": "track"}, ' * 5_000 + b"{}]}",  # over the limit too
        b'{"batch": [' + b"{}," * 1_100 + b"{}]}",  # more messages than a batch may hold
    ]),
)


def _headers(draw: st.DrawFn, write_key: str, body_object: object) -> tuple[dict[str, str], dict[str, str]]:
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    auth = draw(AUTH)
    if auth == "basic":
        headers["authorization"] = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    elif auth == "bearer":
        headers["authorization"] = f"Bearer {write_key}"
    elif auth == "query":
        params["writeKey"] = write_key
    elif auth == "body" and isinstance(body_object, dict):
        body_object["writeKey"] = write_key
    elif auth == "garbage":
        headers["authorization"] = draw(st.text(_ASCII, max_size=60))
    elif auth == "bad-base64":
        headers["authorization"] = "Basic " + draw(st.sampled_from(["!!!", "=", "dGVzdA", "w6k6"]))
    if draw(st.booleans()):
        headers["origin"] = draw(st.sampled_from(["https://example.com", "null", "http://[::1]:3000"]))
    return headers, params


@st.composite
def requests(draw: st.DrawFn, write_key: str) -> dict:
    path = draw(st.sampled_from(ENDPOINTS))
    raw = draw(st.integers(0, 3)) == 0
    body_object, good_index = (None, None) if raw else draw(json_bodies(path))
    headers, params = _headers(draw, write_key, body_object)
    if raw:
        content = draw(RAW_BODIES)
    else:
        _tag(body_object)
        content = _encode(body_object)
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers["content-type"] = content_type
    encoding = draw(ENCODINGS)
    if encoding is not None:
        headers["content-encoding"] = "gzip" if encoding == "gzip-lie" else encoding
        if encoding.strip().lower() in ("gzip", "x-gzip"):
            content = gzip.compress(content)
    return {"path": path, "content": content, "headers": headers, "params": params, "raw": raw, "body": body_object,
            "good_index": good_index, "chunked": draw(st.integers(0, 9)) == 0}


def _tag(body: object) -> None:
    """Prefix string message ids with a nonce, so JetStream's duplicate window never hides an example's events."""
    nonce = secrets.token_hex(4)
    messages = body.get("batch") if isinstance(body, dict) and "batch" in body else [body]
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict) and isinstance(message.get("messageId"), str) and message["messageId"].strip():
            message["messageId"] = f"{nonce}-{message['messageId']}"


def _messages(request: dict) -> list:
    body = request["body"]
    return body["batch"] if request["path"] == "/v1/batch" else [body]


def assert_clear_refusal(response: httpx.Response) -> None:
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    refusal = response.json()
    assert refusal["success"] is False, refusal
    assert isinstance(refusal["code"], str) and refusal["code"], refusal
    assert isinstance(refusal["message"], str) and refusal["message"], refusal


async def _chunks(content: bytes):
    for start in range(0, len(content), 8192):
        yield content[start:start + 8192]


@hypothesis_settings(FUZZ, max_examples=200)
@given(data=st.data())
async def test_any_request_is_answered_below_500_and_good_messages_are_accepted(
    data, ingest_server, project, stream_watch: StreamWatch
):
    request = data.draw(requests(project.write_key))
    await stream_watch.mark()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest_server.bridge_port}", timeout=30) as http:
        content = _chunks(request["content"]) if request["chunked"] else request["content"]
        response = await http.post(request["path"], content=content, headers=request["headers"],
                                   params=request["params"])
    assert response.status_code < 500, response.text
    event(f"HTTP {response.status_code}")
    if response.status_code != 200:
        assert 400 <= response.status_code < 500, response.status_code
        assert_clear_refusal(response)
        assert (await stream_watch.added()).message_ids == []
        return
    answer = response.json()
    assert answer["success"] is True
    assert isinstance(answer["accepted"], int) and isinstance(answer["errors"], list), answer
    if request["raw"]:  # some bytes are a JSON object after all (`{}`): nothing more is known of them
        return
    assert isinstance(request["body"], dict), "a body that is no JSON object was accepted"
    messages = _messages(request)
    indices = [error["index"] for error in answer["errors"]]
    assert len(set(indices)) == len(indices) and all(0 <= index < len(messages) for index in indices), indices
    assert answer["accepted"] + len(indices) == len(messages), answer
    for error in answer["errors"]:
        assert isinstance(error["code"], str) and error["code"] and error["reason"], error
    if request["good_index"] is not None:
        assert request["good_index"] not in indices, answer["errors"]
        event("good message accepted beside others" if len(messages) > 1 else "good message accepted")
    accepted = [message for index, message in enumerate(messages) if index not in set(indices)]
    stored = (await stream_watch.added()).message_ids
    assert len(stored) <= answer["accepted"], "more events in JetStream than the answer accepted"
    tagged = [message["messageId"] for message in accepted
              if isinstance(message.get("messageId"), str) and message["messageId"].strip()]
    assert set(tagged) <= set(stored), "an accepted message is not in JetStream"


@hypothesis_settings(FUZZ, max_examples=40)
@given(write_key=st.one_of(st.text(max_size=300), st.text(_ASCII, max_size=60)), origin=st.sampled_from(
    [None, "https://example.com", "null"]))
async def test_config_and_preflight_with_any_write_key_are_answered_below_500(write_key, origin, ingest_server):
    headers = {"origin": origin} if origin else {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest_server.bridge_port}", timeout=30) as http:
        for method in ("GET", "OPTIONS"):
            response = await http.request(method, "/v1/config", params={"writeKey": write_key}, headers=headers)
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                assert_clear_refusal(response)
