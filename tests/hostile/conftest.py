"""Fixtures of the hostile-tenant suite (see hostile/arena.py): one capped server for the
session, each tenant's lab on it, and the suite's reliability table at the end of the run."""

import itertools

import pytest
from hostile.arena import MEMORY_CAP, Arena, Tally, make_lab

_TALLY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")
def arena(tmp_path_factory, request):
    """The capped server with its two tenants (one for the whole session)."""
    tally = request.config.stash.setdefault(_TALLY, Tally())
    arena = Arena(tmp_path_factory.mktemp("hostile") / "store", tally)
    try:
        yield arena
        tally.writes_lost = arena.writes_lost()
    finally:
        arena.close()
    assert tally.writes_lost == 0 and tally.race_lost == 0


@pytest.fixture(scope="session")
def lab(arena, tmp_path_factory):
    """Mallory's lab (see ``arena.make_lab``)."""
    return make_lab(arena, arena.mallory, tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="session")
def bob_lab(arena, tmp_path_factory):
    """Bob's lab (see ``arena.make_lab``)."""
    return make_lab(arena, arena.bob, tmp_path_factory.mktemp("bob-lab"))


def pytest_terminal_summary(terminalreporter, config):
    tally = config.stash.get(_TALLY, None)
    if tally is None or not tally.outcomes:
        return
    outcomes = tally.outcomes
    lost = "not checked" if tally.writes_lost is None else tally.writes_lost + tally.race_lost
    terminalreporter.section("hostile-tenant attacks")
    terminalreporter.line(
        f"server capped at {MEMORY_CAP / 2**30:g} GiB of address space: {len(outcomes)} attacks tried, "
        f"{sum(o.answered for o in outcomes)} answered with the status expected, "
        f"{sum(o.died for o in outcomes)} server deaths, {lost} acknowledged writes lost "
        f"({tally.race_rounds} rounds of the upload/delete race among them)")
    for outcome, group in itertools.groupby(outcomes):  # a barrage's calls are alike
        growth = "died" if outcome.died else f"+{outcome.growth / 2**20:.1f} MiB"
        count = len(list(group))
        terminalreporter.line(f"  {outcome.code:<20} {growth:>12} peak RSS  {f'{count} x ' if count > 1 else ''}"
                              f"{outcome.name}")
