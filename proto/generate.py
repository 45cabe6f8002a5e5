"""Generate the Python modules of the wire contract from proto/trackmint/v1/*.proto.

Run `python proto/generate.py` after editing a .proto file; the output is
committed so installs need no code generator. `--check DIR` writes into DIR
instead, for the test that keeps the committed modules current.
"""

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent


def generate(out_dir: Path) -> list[Path]:
    sources = sorted(PROTO_ROOT.glob("trackmint/v1/*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *map(str, sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out_dir / "trackmint" / "v1").glob("*_pb2*.py*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PROTO_ROOT)
    args = parser.parse_args()
    written = generate(args.out)
    init = args.out / "trackmint" / "v1" / "__init__.py"
    if not init.exists():
        shutil.copy(PROTO_ROOT / "trackmint" / "v1" / "__init__.py", init)
    sys.stdout.write("".join(f"{path}\n" for path in written))


if __name__ == "__main__":
    main()
