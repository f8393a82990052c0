"""Generate the Python stubs for protos/braindecode/v1/*.proto into braindecode/v1/.

A proto whose package is not braindecode's (inference.proto: the Open Inference Protocol's
``inference``, whose symbols tritonclient and other servers' packages register too) is built into
a descriptor pool of its own instead of protobuf's default pool, so that its module imports in the
same process as theirs.

Usage: python scripts/generate_stubs.py [OUT_DIR]   (default: the repository root)
tests/test_stubs.py regenerates into a temporary folder and fails when the committed stubs differ.
"""

import pathlib
import re
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[1]
OWN_PACKAGE = "braindecode."
DEFAULT_POOL = "_descriptor_pool.Default().AddSerializedFile("
OWN_POOL = "_descriptor_pool.DescriptorPool().AddSerializedFile("


def _use_own_pool(proto: pathlib.Path, module: pathlib.Path) -> None:
    """Build ``module`` (the messages of ``proto``) into a descriptor pool of its own when ``proto``'s
    package is not braindecode's; such a proto imports no other file."""
    text = proto.read_text()
    package = re.search(r"^package\s+([\w.]+)\s*;", text, re.MULTILINE).group(1)
    if package.startswith(OWN_PACKAGE):
        return
    if re.search(r"^import\s", text, re.MULTILINE):
        raise SystemExit(f"{proto.name}: a proto outside {OWN_PACKAGE}* gets a pool of its own and may import nothing")
    code = module.read_text()
    if code.count(DEFAULT_POOL) != 1:
        raise SystemExit(f"{module.name}: protoc's output no longer adds its file to the default pool once")
    module.write_text(code.replace(DEFAULT_POOL, OWN_POOL))


def generate(out_dir: pathlib.Path) -> list:
    protos = sorted((ROOT / "protos" / "braindecode" / "v1").glob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{ROOT / 'protos'}", f"-I{include}", f"--python_out={out_dir}",
            f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}"] + [str(p) for p in protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    package = out_dir / "braindecode" / "v1"
    for proto in protos:
        _use_own_pool(proto, package / f"{proto.stem}_pb2.py")
    init = package / "__init__.py"
    init.write_text('"""Generated gRPC stubs for the braindecode.v1 wire contract (scripts/generate_stubs.py)."""\n')
    return sorted(package.glob("*.py*"))


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(out):
        print(path.relative_to(out))
