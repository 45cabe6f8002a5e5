"""`trackmint` command line.

    trackmint up [--data-dir DIR]            the whole system, embedded servers included
    trackmint migrate                        apply database migrations
    trackmint serve ingest|processor|query|alerting|destinations
                                             one service, as containers run them
    trackmint project create NAME            a project and its write key, as JSON
    trackmint bootstrap --email E --password P --org O --project NAME
                                             an organization, its ADMIN and a project, as JSON

Every command reads TRACKMINT_* settings; without TRACKMINT_DATABASE_URL /
TRACKMINT_NATS_URL, it reaches the embedded servers of a running `up` with the
same data directory.
"""

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

import asyncpg
from pydantic import ValidationError

from cli.state import read_state
from config import Settings, load_settings
from observability.logs import configure_logging
from storage.migrations import migrate
from storage.projects import InvalidRateLimitError, InvalidTimezoneError, create_project

logger = logging.getLogger("trackmint")


class CommandError(Exception):
    """A problem the user can fix, reported in one line without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trackmint", description="TrackMint product analytics.")
    parser.add_argument("--data-dir", type=Path, help="where embedded servers keep data (default .trackmint)")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run everything: embedded PostgreSQL and NATS, ingest, processor, query")
    up.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    up.add_argument("--ingest-port", type=int)
    up.add_argument("--query-port", type=int)
    up.add_argument("--bridge-port", type=int, help="HTTP bridge port (default 8080)")

    commands.add_parser("migrate", help="apply database migrations")

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=["ingest", "processor", "query", "alerting", "destinations"])

    project = commands.add_parser("project", help="manage projects")
    project_commands = project.add_subparsers(dest="project_command", required=True)
    create = project_commands.add_parser("create", help="create a project and print its id and write key as JSON")
    create.add_argument("name")
    create.add_argument("--timezone", default="UTC", help="IANA timezone for bucketing (default UTC)")
    create.add_argument(
        "--rate-limit", type=int, metavar="EVENTS_PER_S",
        help="events/s per write key and ingest replica (default: TRACKMINT_RATE_LIMIT_EVENTS_PER_SECOND)",
    )

    boot = commands.add_parser(
        "bootstrap", help="create (or find) an organization, its ADMIN user and a project; print ids and a write key"
    )
    boot.add_argument("--email", required=True)
    boot.add_argument("--password", required=True, help="at least 10 characters; an existing user's is verified")
    boot.add_argument("--org", required=True, help="organization name")
    boot.add_argument("--project", required=True, help="project name (found in the organization, or created)")
    return parser


def _connected(settings: Settings) -> Settings:
    """Fill in the URLs of a running `up` for this data directory when none are configured."""
    if settings.database_url and settings.nats_url:
        return settings
    state = read_state(settings.data_dir.resolve())
    if state is None:
        missing = "TRACKMINT_DATABASE_URL" if not settings.database_url else "TRACKMINT_NATS_URL"
        raise CommandError(
            f"no {missing} set and no running `trackmint up` in {settings.data_dir}; start one or set the URL"
        )
    return settings.model_copy(
        update={
            "database_url": settings.database_url or state.database_url,
            "nats_url": settings.nats_url or state.nats_url,
        }
    )


async def _migrate(settings: Settings) -> list[str]:
    connection = await asyncpg.connect(settings.database_url)
    try:
        return await migrate(connection)
    finally:
        await connection.close()


async def _create_project(settings: Settings, name: str, timezone: str, rate_limit: int | None) -> dict[str, str]:
    connection = await asyncpg.connect(settings.database_url)
    try:
        created = await create_project(connection, name, timezone, rate_limit=rate_limit)
    finally:
        await connection.close()
    return {"project_id": str(created.project_id), "write_key": created.write_key}


async def _bootstrap(settings: Settings, arguments: argparse.Namespace) -> dict[str, str]:
    from cli.bootstrap import bootstrap

    connection = await asyncpg.connect(settings.database_url)
    try:
        done = await bootstrap(
            connection, email=arguments.email, password=arguments.password, org_name=arguments.org,
            project_name=arguments.project,
        )
    finally:
        await connection.close()
    return done.as_dict()


def _serve(settings: Settings, service: str) -> None:
    if service == "ingest":
        from ingest.server import serve
    elif service == "processor":
        from processor.service import serve
    elif service == "alerting":
        from alerting.service import serve
    elif service == "destinations":
        from destinations.service import serve
    else:
        from query.server import serve
    asyncio.run(serve(settings))


def run(argv: list[str]) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = load_settings(
            data_dir=arguments.data_dir,
            ingest_port=getattr(arguments, "ingest_port", None),
            query_port=getattr(arguments, "query_port", None),
            bridge_port=getattr(arguments, "bridge_port", None),
        )
    except ValidationError as error:
        raise CommandError(f"invalid settings: {error}") from error
    service = arguments.service if arguments.command == "serve" else arguments.command
    configure_logging(settings.log_level, settings.log_format or "text", service)

    if arguments.command == "up":
        from cli.supervisor import run_up

        return run_up(settings)
    settings = _connected(settings)
    if arguments.command == "migrate":
        applied = asyncio.run(_migrate(settings))
        print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    elif arguments.command == "serve":
        _serve(settings, arguments.service)
    elif arguments.command == "project":
        try:
            created = asyncio.run(
                _create_project(settings, arguments.name, arguments.timezone, arguments.rate_limit)
            )
        except (InvalidTimezoneError, InvalidRateLimitError, asyncpg.CheckViolationError) as error:
            raise CommandError(str(error)) from error
        print(json.dumps(created))
    elif arguments.command == "bootstrap":
        from cli.bootstrap import BootstrapError

        try:
            print(json.dumps(asyncio.run(_bootstrap(settings, arguments))))
        except (BootstrapError, asyncpg.CheckViolationError) as error:
            raise CommandError(str(error)) from error
    return 0


def main() -> None:
    try:
        sys.exit(run(sys.argv[1:]))
    except CommandError as error:
        sys.stderr.write(f"trackmint: {error}\n")
        sys.exit(2)
    except (OSError, asyncpg.PostgresError) as error:
        logger.debug("failure", exc_info=True)
        sys.stderr.write(f"trackmint: cannot reach a server: {error!r}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
