"""docs/schema.graphql is the SDL of the schema the query service serves, kept current by a script."""

import difflib
import subprocess
import sys
from pathlib import Path

from query.export_schema import DEFAULT_PATH, schema_sdl
from query.schema import create_schema

ROOT = Path(__file__).resolve().parents[2]


def test_docs_schema_graphql_matches_the_served_schema():
    committed = DEFAULT_PATH.read_text(encoding="utf-8")
    current = schema_sdl()
    if committed != current:
        diff = "".join(difflib.unified_diff(
            committed.splitlines(keepends=True), current.splitlines(keepends=True),
            "docs/schema.graphql", "create_schema().as_str()", n=1,
        ))
        raise AssertionError(
            "docs/schema.graphql is out of date: run `.venv/bin/python -m query.export_schema`\n" + diff[:4000]
        )


def test_the_export_is_the_schema_as_str():
    assert schema_sdl().rstrip("\n") == create_schema().as_str().rstrip("\n")
    assert "type Query {" in schema_sdl() and "type Subscription {" in schema_sdl()


def test_the_export_command_writes_the_sdl(tmp_path: Path):
    target = tmp_path / "schema.graphql"
    result = subprocess.run([sys.executable, "-m", "query.export_schema", str(target)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8") == schema_sdl()


def test_check_exits_1_while_the_file_is_out_of_date(tmp_path: Path):
    target = tmp_path / "schema.graphql"
    target.write_text("type Query { stale: Int }\n", encoding="utf-8")
    check = [sys.executable, "-m", "query.export_schema", "--check", str(target)]
    stale = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert stale.returncode == 1 and "python -m query.export_schema" in stale.stdout
    assert target.read_text(encoding="utf-8") == "type Query { stale: Int }\n"
    target.write_text(schema_sdl(), encoding="utf-8")
    assert subprocess.run(check, cwd=ROOT, capture_output=True, timeout=60, check=False).returncode == 0
