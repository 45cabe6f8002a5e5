"""The state file of a running `trackmint up`, so other commands reach its embedded servers.

`<data dir>/state.json` holds the database and NATS URLs while `up` runs;
`<data dir>/default-project.json` (mode 0600) keeps the development project's
write key and the development login (email and password) so `up` can print
them again on the next start.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "state.json"
DEFAULT_PROJECT_FILE = "default-project.json"


@dataclass(frozen=True)
class RunState:
    database_url: str
    nats_url: str
    pid: int


def write_state(data_dir: Path, state: RunState) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(state)))
    temporary.replace(data_dir / STATE_FILE)


def read_state(data_dir: Path) -> RunState | None:
    """The state of a live `up` for this directory, or None."""
    path = data_dir / STATE_FILE
    try:
        state = RunState(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return state


def clear_state(data_dir: Path) -> None:
    (data_dir / STATE_FILE).unlink(missing_ok=True)


def save_default_project(data_dir: Path, project: dict[str, str]) -> None:
    """Keep `project` (project_id, write_key, login_email, login_password) readable only by its owner."""
    path = data_dir / DEFAULT_PROJECT_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # O_CREAT's mode only applies to new files; an older file keeps whatever it had.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(project, file)


def load_default_project(data_dir: Path) -> dict[str, str] | None:
    try:
        return json.loads((data_dir / DEFAULT_PROJECT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
