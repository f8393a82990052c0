import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run slow end-to-end tests")


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--runslow") or os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if run_slow:
        return
    skip = pytest.mark.skip(reason="slow end-to-end test: runs when CI=true or with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
