"""Generate the Python stubs for protos/braindecode/v1/*.proto into braindecode/v1/.

Usage: python scripts/generate_stubs.py [OUT_DIR]   (default: the repository root)
tests/test_stubs.py regenerates into a temporary folder and fails when the committed stubs differ.
"""

import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[1]


def generate(out_dir: pathlib.Path) -> list:
    protos = sorted((ROOT / "protos" / "braindecode" / "v1").glob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{ROOT / 'protos'}", f"-I{include}", f"--python_out={out_dir}",
            f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}"] + [str(p) for p in protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    package = out_dir / "braindecode" / "v1"
    init = package / "__init__.py"
    init.write_text('"""Generated gRPC stubs for the braindecode.v1 wire contract (scripts/generate_stubs.py)."""\n')
    return sorted(package.glob("*.py*"))


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(out):
        print(path.relative_to(out))
