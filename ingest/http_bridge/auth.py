"""The write key of an HTTP request, as Segment's and RudderStack's libraries and browsers send it.

In order: `Authorization: Basic base64(<key>:)` (the key is the user name; Segment's and
RudderStack's server libraries), `Authorization: Bearer <key>`, a `writeKey` query parameter,
then a `writeKey` field of the JSON body (Segment's libraries send it there too, and
`navigator.sendBeacon` cannot set headers at all).
"""

import base64
import binascii
from collections.abc import Mapping

from ingest.errors import AuthenticationError

_MISSING = (
    "missing write key: send it as the HTTP Basic user name, as `Authorization: Bearer <key>`, "
    "or as `writeKey` in the query string or JSON body"
)


def _from_authorization(value: str) -> str:
    scheme, _, credential = value.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationError("malformed Basic credentials: expected base64 of '<write key>:'") from None
        user, _, password = decoded.partition(":")
        # Some clients put the key in the password with an empty user name.
        key = user.strip() or password.strip()
        if not key:
            raise AuthenticationError(_MISSING)
        return key
    if scheme.lower() == "bearer" and credential:
        return credential
    raise AuthenticationError("Authorization must be 'Basic <base64 of key:>' or 'Bearer <write key>'")


def write_key_of(headers: Mapping[str, str], query: Mapping[str, str], body: Mapping[str, object] | None) -> str:
    """The request's write key; raises AuthenticationError (401) when there is none or it is malformed."""
    authorization = headers.get("authorization")
    if authorization:
        return _from_authorization(authorization)
    key = query.get("writeKey") or (body or {}).get("writeKey")
    if isinstance(key, str) and key.strip():
        return key.strip()
    raise AuthenticationError(_MISSING)
