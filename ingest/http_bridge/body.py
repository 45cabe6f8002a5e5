"""Reading a request body safely: accepted media types, a size cap on the wire and after gzip, JSON parsing.

Memory stays bounded whatever the client sends: Content-Length is checked
first, bytes are counted while reading (a lying or absent Content-Length does
not help), and gzip is inflated incrementally with an output cap, so a small
zip bomb is refused after `limit` bytes of output. Parsing a hostile body is
bounded too: orjson refuses nesting beyond its recursion limit instead of
exhausting the stack.
"""

import json
import zlib
from collections.abc import AsyncIterator, Mapping

import orjson

from ingest.http_bridge.errors import BadRequestError, BodyTooLargeError, UnsupportedMediaTypeError

ACCEPTED_MEDIA_TYPES = frozenset({"application/json", "text/plain", ""})
"""text/plain is what `navigator.sendBeacon` and CORS-simple fetches send; a missing type is taken as JSON."""
_GZIP = frozenset({"gzip", "x-gzip"})
_IDENTITY = frozenset({"", "identity"})
# orjson reads integers beyond 64 bits as floats, losing digits: bodies with a run of 19+ digits take the
# slow path. Mapping digits to "0" and the rest to "." and searching for the run is ~20x faster than a regex.
_DIGITS_TO_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x2E for byte in range(256))
_LONG_RUN = b"0" * 19


def check_media_type(headers: Mapping[str, str]) -> None:
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise UnsupportedMediaTypeError(
            f"Content-Type {media_type!r} is not accepted: send application/json (or text/plain from sendBeacon)"
        )


def _too_large(limit: int, what: str) -> BodyTooLargeError:
    return BodyTooLargeError(f"request body is larger than {limit} bytes{what}; send smaller batches")


async def read_body(headers: Mapping[str, str], chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The body, gunzipped when Content-Encoding says so, at most `limit` bytes on the wire and decoded."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in _GZIP and encoding not in _IDENTITY:
        raise UnsupportedMediaTypeError(f"Content-Encoding {encoding!r} is not accepted: send gzip or none")
    declared = headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit, "")
        except ValueError:
            raise BadRequestError(f"Content-Length {declared!r} is not a number") from None
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in _GZIP else None
    received = 0
    body = bytearray()
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, "")
        if inflater is None:
            body += chunk
            continue
        pending = chunk
        try:
            while pending and not inflater.eof:
                # max_length bounds each step's output; the rest of the input waits in unconsumed_tail.
                body += inflater.decompress(pending, limit + 1 - len(body))
                if len(body) > limit:
                    raise _too_large(limit, " after gzip decompression")
                pending = inflater.unconsumed_tail
        except zlib.error as error:
            raise BadRequestError(f"body is not valid gzip: {error}", "invalid_gzip") from None
    if inflater is not None and not inflater.eof:
        raise BadRequestError("gzip body is truncated", "invalid_gzip")
    return bytes(body)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_object(body: bytes) -> dict:
    """The body as a JSON object; raises BadRequestError (400) with the reason otherwise."""
    if not body.strip():
        raise BadRequestError("request body is empty: send a JSON object", "malformed_json")
    if _LONG_RUN in body.translate(_DIGITS_TO_ZERO):
        value = _parse_slowly(body, None)
    else:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            value = _parse_slowly(body, error)
    if not isinstance(value, dict):
        raise BadRequestError(f"request body must be a JSON object, not {type(value).__name__}", "invalid_body")
    return value


def _parse_slowly(body: bytes, error: orjson.JSONDecodeError | None) -> object:
    """The value by the standard library, or why the body is not JSON.

    It parses what orjson refuses or reads lossily but JSON allows: integers beyond 64 bits and
    lone surrogate escapes; the pipeline then judges each event's values.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise BadRequestError(f"request body is not valid UTF-8 (byte {bad.start})", "invalid_utf8") from None
    too_deep = BadRequestError("request body nests JSON deeper than the parser allows (about 1000 levels)",
                               "too_deep")
    if error is not None and ("depth limit" in str(error) or "recursion limit" in str(error)):
        raise too_deep
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise too_deep from None
    except ValueError as refused:
        raise BadRequestError(f"request body is not valid JSON: {error or refused}", "malformed_json") from None
