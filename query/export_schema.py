"""Write the GraphQL schema's SDL to docs/schema.graphql: `python -m query.export_schema [--check] [PATH]`.

tests/docs/test_schema_sdl.py fails while the committed file differs from the schema the code builds,
so run this after changing a type, field, argument or description. `--check` writes nothing and exits
1 when the file is out of date.
"""

import sys
from pathlib import Path

from query.schema import create_schema

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "docs" / "schema.graphql"


def schema_sdl() -> str:
    """The schema as SDL, ending with one newline."""
    return create_schema().as_str().rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [argument for argument in argv if argument != "--check"]
    path = Path(paths[0]) if paths else DEFAULT_PATH
    sdl = schema_sdl()
    if check:
        current = path.is_file() and path.read_text(encoding="utf-8") == sdl
        sys.stdout.write(f"{path} is up to date\n" if current else
                         f"{path} is out of date: run python -m query.export_schema\n")
        return 0 if current else 1
    path.write_text(sdl, encoding="utf-8")
    sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
