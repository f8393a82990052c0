"""Offset page tokens of the listing calls (recordings, artifacts, jobs)."""

from __future__ import annotations

from braindecode.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_bounds(page_size: int, page_token: str) -> tuple:
    """(page_size, offset) of one listing page; a page_size of 0 means the default of 100."""
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 0 and {MAX_PAGE_SIZE}, got {page_size}")
    try:
        offset = int(page_token) if page_token else 0
    except ValueError:
        raise InvalidArgument(f"invalid page_token {page_token!r}") from None
    if offset < 0:
        raise InvalidArgument(f"invalid page_token {page_token!r}")
    return page_size or DEFAULT_PAGE_SIZE, offset


def next_page_token(rows: list, page_size: int, offset: int) -> str:
    """The token of the page after ``rows`` (fetched with ``page_size + 1`` as the limit), or ""."""
    return str(offset + page_size) if len(rows) > page_size else ""
