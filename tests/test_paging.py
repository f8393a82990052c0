"""Page tokens: an offset that SQLite holds, or InvalidArgument quoting a short prefix."""

import pytest

from braindecode._paging import MAX_PAGE_SIZE, next_page_token, page_bounds
from braindecode.errors import InvalidArgument


def test_tokens_round_trip():
    assert page_bounds(0, "") == (100, 0)
    assert page_bounds(10, next_page_token(list(range(11)), 10, 30)) == (10, 40)
    assert page_bounds(MAX_PAGE_SIZE, "9" * 18) == (MAX_PAGE_SIZE, 10**18 - 1)


@pytest.mark.parametrize("token", ["99999999999999999999", "9" * 19, "-1", " 1", "1_000", "1e3", "\u0661", "abc"])
def test_tokens_that_are_not_offsets_are_invalid(token):
    with pytest.raises(InvalidArgument, match="invalid page_token"):
        page_bounds(10, token)


def test_a_huge_token_is_quoted_by_its_prefix():
    with pytest.raises(InvalidArgument) as err:
        page_bounds(10, "7" * 10**6)
    assert f"'{'7' * 40}'... (1000000 characters)" in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("size", [-1, MAX_PAGE_SIZE + 1])
def test_page_sizes_out_of_range(size):
    with pytest.raises(InvalidArgument, match="page_size must be between"):
        page_bounds(size, "")
