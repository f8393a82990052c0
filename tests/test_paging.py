"""Page tokens: an offset that SQLite holds, or InvalidArgument quoting a short prefix; pages bounded
by size as well as by count."""

import pytest

from braindecode._paging import MAX_PAGE_SIZE, next_page_token, page_bounds, sized_page
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


@pytest.mark.parametrize("sizes, page_size, expected", [
    ([10, 10, 10], 2, (2, "52")),     # the count ends the page
    ([10, 10, 10], 5, (3, "")),       # the last page
    ([40, 70, 10], 5, (1, "51")),     # the size ends it: 40 + 70 > 100
    ([150, 10], 5, (1, "51")),        # a row past the size alone still makes a page
    ([60, 40, 1], 5, (2, "52")),      # exactly the size
])
def test_pages_hold_what_fits_in_their_size(sizes, page_size, expected):
    assert sized_page(sizes, page_size, 50, max_bytes=100) == expected
