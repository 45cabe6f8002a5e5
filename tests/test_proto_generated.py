"""The committed Python modules of the wire contract match what the .proto files generate."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_modules_are_current(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("generate", ROOT / "proto" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    fresh = generate.generate(tmp_path)
    assert fresh, "protoc generated nothing"
    for path in fresh:
        committed = ROOT / "proto" / "trackmint" / "v1" / path.name
        assert committed.read_text() == path.read_text(), f"{path.name} is stale: run `make proto`"
