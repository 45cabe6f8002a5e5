"""The accounts operations, and helpers to run them against the test server."""

import secrets
from typing import Any

import httpx

from tests.query.graphql_client import error_codes

__all__ = ["error_codes"]

PASSWORD = "correct horse battery"

_SESSION = "accessToken refreshToken user { id email name role organization { id name } sections }"

REGISTER = f"""mutation($input: RegisterInput!) {{ register(input: $input) {{ {_SESSION} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ {_SESSION} }} }}"""
REFRESH = f"""mutation($token: String!) {{ refreshToken(token: $token) {{ {_SESSION} }} }}"""
LOGOUT = """mutation($token: String!) { logout(refreshToken: $token) }"""
ME = """query { me { id email name role organization { id name } sections } }"""


async def execute(
    client: httpx.AsyncClient, query: str, bearer: str | None = None, **variables: Any
) -> dict[str, Any]:
    """POST one operation, with `bearer` as the access token if given; returns the whole body."""
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def new_email() -> str:
    return f"user-{secrets.token_hex(4)}@example.com"


async def register(client: httpx.AsyncClient, email: str | None = None, password: str = PASSWORD,
                   org_name: str = "Acme") -> dict[str, Any]:
    body = await execute(client, REGISTER, input={"orgName": org_name, "email": email or new_email(),
                                                  "password": password, "name": "Ada"})
    assert "errors" not in body, body
    return body["data"]["register"]


def messages(body: dict[str, Any]) -> list[str]:
    return [error["message"] for error in body.get("errors", [])]
