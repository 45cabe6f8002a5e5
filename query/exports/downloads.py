"""Download tokens: how a plain browser link (which cannot send an Authorization header) starts an export.

The web UI posts its access token to `POST /export/download-token` with the project and the export it wants,
and gets back a JWT that opens exactly that export (`GET /export/<export>.csv?projectId=<project>&token=...`)
for DOWNLOAD_TOKEN_TTL seconds. Short-lived and narrow because it travels in a URL (browser history, proxy
logs): it cannot be used as an access token (another `typ`), for another project or another export, and it
carries only the caller's identity, never a refresh token. The project is checked against the caller's
organization again when the download starts.
"""

import time
from datetime import timedelta
from uuid import UUID

import jwt

from config import Settings
from query.auth.tokens import ALGORITHM, ROLES, AccessClaims, TokenError

DOWNLOAD_TOKEN_TYPE = "export-download"
DOWNLOAD_TOKEN_TTL = timedelta(seconds=60)
"""How long a download link works: long enough to click, short enough that a leaked URL is soon useless."""

DOWNLOADABLE_EXPORTS = frozenset({"events", "persons", "person"})
"""The exports a browser opens as a link (the analytics exports are POSTs with a body, sent with fetch)."""


def issue_download_token(settings: Settings, caller: AccessClaims, project_id: UUID, export: str) -> str:
    issued = int(time.time())
    claims = {
        "sub": str(caller.user_id),
        "org": str(caller.organization_id),
        "role": caller.role,
        "prj": str(project_id),
        "exp_kind": export,
        "iat": issued,
        "exp": issued + int(DOWNLOAD_TOKEN_TTL.total_seconds()),
        "typ": DOWNLOAD_TOKEN_TYPE,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def verify_download_token(settings: Settings, token: str, project_id: str, export: str) -> AccessClaims:
    """The caller of a download token that opens `export` of `project_id`; TokenError saying why not."""
    try:
        claims = jwt.decode(
            token, settings.secret_key, algorithms=[ALGORITHM],
            options={"require": ["sub", "org", "role", "prj", "exp_kind", "iat", "exp", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("download token expired; ask for a new one") from None
    except jwt.InvalidTokenError:
        raise TokenError("download token invalid") from None
    if claims["typ"] != DOWNLOAD_TOKEN_TYPE or claims["role"] not in ROLES:
        raise TokenError("download token invalid")
    if claims["prj"] != project_id or claims["exp_kind"] != export:
        raise TokenError(f"download token does not open the {export} export of this project")
    try:
        return AccessClaims(UUID(claims["sub"]), UUID(claims["org"]), claims["role"])
    except (ValueError, TypeError, AttributeError):
        raise TokenError("download token invalid") from None
