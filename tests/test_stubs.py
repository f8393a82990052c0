import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_committed_stubs_match_the_protos(tmp_path):
    spec = importlib.util.spec_from_file_location("generate_stubs", ROOT / "scripts" / "generate_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.generate(tmp_path)
    assert fresh, "no stubs generated"
    stale = [p.name for p in fresh
             if (ROOT / p.relative_to(tmp_path)).read_bytes() != p.read_bytes()]
    committed = sorted(p.name for p in (ROOT / "braindecode" / "v1").glob("*.py*"))
    assert stale == [], f"stubs out of date, run scripts/generate_stubs.py: {stale}"
    assert committed == sorted(p.name for p in fresh)
