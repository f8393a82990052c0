"""Each public name has one home: no name in the ``__all__`` of two packages, none private.

A package is a folder of ``braindecode/`` (or a top-level module); inside one, a public
submodule (``preprocessing.fmri``) may list what its package re-exports, as the same object.
"""

import ast
import collections
import importlib
import pathlib

import pytest

import braindecode

ROOT = pathlib.Path(braindecode.__file__).parent


def _exports() -> dict:
    """{module name: (package, names in its ``__all__``)} for every module under braindecode/ that sets one."""
    exports = {}
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                parts = path.relative_to(ROOT.parent).with_suffix("").parts
                parts = parts[:-1] if parts[-1] == "__init__" else parts
                exports[".".join(parts)] = (parts[1] if len(parts) > 1 else parts[0], ast.literal_eval(node.value))
    return exports


EXPORTS = _exports()


def test_every_package_sets_all():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"v1"}  # v1: generated stubs
    assert packages <= {package for package, _ in EXPORTS.values()}


def test_no_public_name_in_two_packages():
    homes = collections.defaultdict(set)
    for package, names in EXPORTS.values():
        for name in names:
            homes[name].add(package)
    twice = {name: sorted(packages) for name, packages in homes.items() if len(packages) > 1}
    assert not twice, f"public names defined in more than one package: {twice}"


@pytest.mark.parametrize("module", sorted(EXPORTS))
def test_all_lists_public_names_the_module_defines(module):
    _, names = EXPORTS[module]
    private = [name for name in names if name.startswith("_")]
    assert not private, f"{module}.__all__ names private {private}"
    assert len(set(names)) == len(names), f"{module}.__all__ repeats a name"
    imported = importlib.import_module(module)
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"{module}.__all__ names {missing}, which it does not define"


def test_a_package_and_its_submodules_export_one_object_per_name():
    objects = collections.defaultdict(dict)
    for module, (package, names) in EXPORTS.items():
        imported = importlib.import_module(module)
        for name in names:
            objects[package, name][module] = getattr(imported, name)
    differing = {key: sorted(found) for key, found in objects.items()
                 if len({id(value) for value in found.values()}) > 1}
    assert not differing, f"one package exports different objects under one name: {differing}"
