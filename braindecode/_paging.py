"""Offset page tokens of the listing calls (recordings, artifacts, jobs)."""

from __future__ import annotations

import re

from braindecode.errors import InvalidArgument, quoted

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_PAGE_BYTES = 8 * 2**20
"""Default bound on the bytes of one page of a listing whose rows vary in size (recordings with
their events): half the server's default message limit."""
_TOKEN = re.compile(r"[0-9]{1,18}")  # an offset that SQLite's 64-bit integers hold


def page_bounds(page_size: int, page_token: str) -> tuple:
    """(page_size, offset) of one listing page; a page_size of 0 means the default of 100.

    ``page_token`` is "" (the first page) or a ``next_page_token`` given before; anything else
    is InvalidArgument.
    """
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 0 and {MAX_PAGE_SIZE}, got {page_size}")
    if page_token and not _TOKEN.fullmatch(page_token):
        raise InvalidArgument(f"invalid page_token {quoted(page_token)}: pass the "
                              "next_page_token of the page before, or nothing for the first page")
    return page_size or DEFAULT_PAGE_SIZE, int(page_token or 0)


def next_page_token(rows: list, page_size: int, offset: int) -> str:
    """The token of the page after ``rows`` (fetched with ``page_size + 1`` as the limit), or ""."""
    return str(offset + page_size) if len(rows) > page_size else ""


def sized_page(sizes: list, page_size: int, offset: int, max_bytes: int) -> tuple:
    """(rows in the page, next_page_token) of a listing whose rows vary in size.

    ``sizes`` are those of the rows from ``offset`` on, fetched with ``page_size + 1`` as the limit;
    the page holds as many as fit in ``max_bytes`` (at least one) and at most ``page_size``.
    """
    n, total = 0, 0
    for size in sizes[:page_size]:
        if n and total + size > max_bytes:
            break
        n, total = n + 1, total + size
    return n, str(offset + n) if len(sizes) > n else ""
