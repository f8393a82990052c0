"""Which voxels and which trials of preprocessed recordings an analysis uses.

A :class:`Selection` is a typed document, checked as a whole like the preprocessing spec::

    {"voxels": {"atlas_id": "rec_...", "labels": [1, 2, 3]},
     "trials": {"where": "split == 'train'"}}

Its voxels name stored images (a mask, or a label image and labels), which the store resolves
into a boolean volume (:func:`selected_voxels` makes it from the image's values); its trials are
stimulus ids or a filter on the events' columns (:func:`matching_events`), a small language of
comparisons read with Python's :mod:`ast` and evaluated here, never by ``eval``.
"""

from __future__ import annotations

import ast
import io
import operator
import re
import tokenize
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, StrictInt, StrictStr

from braindecode._schema import Checked, Expect, Problems, check_document, valid
from braindecode.containers import Events
from braindecode.errors import InvalidArgument, quoted

#: The most characters of a trial filter.
MAX_FILTER_CHARS = 1000
#: The deepest a filter's expression may nest (conditions in conditions).
MAX_FILTER_DEPTH = 64
#: How a filter marks a missing value (BIDS's ``n/a``) in a column compared with numbers.
MISSING = ("n/a", "")

_ORDER = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
          ast.Gt: operator.gt, ast.GtE: operator.ge}
_SYMBOLS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.NotIn: "not in"}
_FILTER_WORDS = ("comparisons (==, !=, <, <=, >, >=, in, not in) of a column with a value or a list of values, "
                 "joined by and, or, not (or &, |, ~) and parentheses")


def _plain_ints(values):
    """numpy integers as ints, so that labels from arrays pass the strict check."""
    if isinstance(values, (list, tuple, np.ndarray)):
        return [int(v) if isinstance(v, np.integer) else v for v in values]
    return values


def _plain_strs(values):
    if isinstance(values, (list, tuple, np.ndarray)):
        return [str(v) if isinstance(v, np.str_) else v for v in values]
    return values


StoredId = Annotated[StrictStr, Field(min_length=1), Expect("a stored recording id (a non-empty string)")]
Labels = Annotated[list[StrictInt], BeforeValidator(_plain_ints), Field(min_length=1),
                   Expect("a non-empty list of integers")]
StimulusIds = Annotated[list[StrictStr], BeforeValidator(_plain_strs), Field(min_length=1),
                        Expect("a non-empty list of strings")]


def _exactly_one(problems: Problems, document: Checked, first: str, second: str) -> None:
    if (getattr(document, first) is None) == (getattr(document, second) is None):
        problems.add("give exactly one of {0} and {1}", (first,), (second,))


class VoxelSelection(Checked):
    """Voxels of fMRI recordings: a stored mask, or the labels of a stored label image.

    The image is a 3-D NIfTI uploaded like a recording, on the recordings' voxel grid (same
    shape and affine).
    """

    mask_id: StoredId | None = None
    """A stored mask: its nonzero voxels are kept."""
    atlas_id: StoredId | None = None
    """A stored label image (ROI atlas, integer labels) ..."""
    labels: Labels | None = None
    """... and the labels of ``atlas_id`` whose voxels are kept; each must be in the image."""

    def rules(self, problems: Problems) -> None:
        _exactly_one(problems, self, "mask_id", "atlas_id")
        if self.atlas_id is not None and self.labels is None:
            problems.add("{0} needs {1}", ("atlas_id",), ("labels",))
        if self.mask_id is not None and self.atlas_id is None and self.labels is not None:
            problems.add("{0} go with {1}, not with {2}", ("labels",), ("atlas_id",), ("mask_id",))


class TrialSelection(Checked):
    """Trials, chosen by their events: stimulus ids, or a filter on the events' columns."""

    stimulus_ids: StimulusIds | None = None
    """The trials of these stimuli; each must be in the events of some recording."""
    where: Annotated[StrictStr, Expect("a filter, e.g. split == 'train'")] | None = None
    """The trials whose event matches this filter on the events' columns (``onset``, ``duration``,
    ``stimulus_id`` and the uploaded ones): comparisons (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``,
    ``in``, ``not in``) of a column with a value or a list of values, joined by ``and``, ``or``,
    ``not`` (or ``&``, ``|``, ``~``, as in pandas' ``query``) and parentheses, e.g. ``split == "train"``.
    A column name that is not an identifier goes in backticks; numbers compare as numbers."""
    model_events: Literal["all", "selected"] = "all"
    """The events the per-trial responses are estimated with: ``"all"`` of the run (one GLM per run over every
    event, then the selected trials are kept) or only the ``"selected"`` ones (the others left unmodelled, as in
    a run uploaded with those events only)."""

    def rules(self, problems: Problems) -> None:
        _exactly_one(problems, self, "stimulus_ids", "where")
        if valid(self.where):
            try:
                _parse(self.where)
            except InvalidArgument as exc:
                problems.add("{0}: {reason}", ("where",), reason=str(exc))


class Selection(Checked):
    """The voxels and the trials of preprocessed recordings that a call uses; unset parts keep all."""

    voxels: VoxelSelection | None = None
    """fMRI voxels: ``{"mask_id": ...}`` or ``{"atlas_id": ..., "labels": [...]}``."""
    trials: TrialSelection | None = None
    """Trials: ``{"stimulus_ids": [...]}`` or ``{"where": "split == 'train'"}``."""

    def document(self) -> dict:
        """The selection as a JSON-ready dict of the keys that are set (as provenance records it)."""
        return self.model_dump(exclude_none=True)


def selection_spec(selection) -> Selection:
    """The typed :class:`Selection` of a dict (a Selection is returned as it is; None selects everything).

    Raises
    ------
    InvalidArgument
        Listing every problem of the selection.
    """
    if selection is None:
        return Selection()
    return check_document(Selection, selection, "selection", "selection key")


def selected_voxels(volume, labels=None, what: str = "the voxel selection") -> np.ndarray:
    """The voxels a mask or a label image keeps.

    Parameters
    ----------
    volume : array of shape (x, y, z)
        A mask (nonzero = kept) or, with ``labels``, a label image of integer values.
    labels : sequence of int, optional
        The labels whose voxels are kept; each must be in ``volume``.
    what : str
        Names the image in error messages.

    Returns
    -------
    voxels : bool array of shape (x, y, z)
        Not empty.
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise InvalidArgument(f"{what} must be one 3-D volume, got shape {volume.shape}")
    if not np.isfinite(volume).all():
        raise InvalidArgument(f"{what} holds NaN or infinite values")
    if labels is None:
        voxels = volume != 0
    else:
        if not np.array_equal(volume, np.round(volume)):
            raise InvalidArgument(f"{what} is not a label image: its values are not all integers")
        present = np.unique(volume).astype(np.int64)
        absent = sorted(set(int(label) for label in labels) - set(present.tolist()))
        if absent:
            shown = ", ".join(str(v) for v in present[:20]) + (" ..." if len(present) > 20 else "")
            raise InvalidArgument(f"label{'s' if len(absent) > 1 else ''} {', '.join(map(str, absent[:10]))} "
                                  f"{'are' if len(absent) > 1 else 'is'} absent from {what} (its labels: {shown})")
        voxels = np.isin(volume, np.asarray(list(labels), dtype=np.float64))
    if not voxels.any():
        raise InvalidArgument(f"{what} selects no voxel")
    return voxels


def matching_events(events: Events, where: str, what: str = "the events") -> np.ndarray:
    """Which events match a trial filter (see :class:`TrialSelection`).

    Parameters
    ----------
    events : Events
        Its fields and its ``columns`` are the filter's columns.
    where : str
        The filter, e.g. ``split == "train"``.
    what : str
        Names the events in error messages (e.g. "recording 'rec_...'").

    Returns
    -------
    matches : bool array of shape (n_events,)
    """
    tree, names = _parse(where)
    table = {"onset": events.onset.astype(str), "duration": events.duration.astype(str),
             "stimulus_id": events.stimulus_id, **events.columns}
    numbers = {"onset": events.onset, "duration": events.duration}
    return _Filter(table, numbers, names, what, len(events)).condition(tree.body)


def _boolean_words(text: str) -> str:
    """``&``, ``|`` and ``~`` written as ``and``, ``or`` and ``not``, as pandas' ``query`` reads them: joining
    comparisons, not binding tighter than them (string literals are left as they are)."""
    words = {"&": "and", "|": "or", "~": "not"}
    tokens = [(tokenize.NAME, words[tok.string]) if tok.type == tokenize.OP and tok.string in words
              else (tok.type, tok.string) for tok in tokenize.generate_tokens(io.StringIO(text).readline)]
    return tokenize.untokenize(tokens)


def _parse(where: str) -> tuple:
    """(ast.Expression, placeholder -> backticked column name) of a filter, checked to use only its language."""
    if not isinstance(where, str) or not where.strip():
        raise InvalidArgument("a trial filter must be a non-empty string")
    if len(where) > MAX_FILTER_CHARS:
        raise InvalidArgument(f"a trial filter has at most {MAX_FILTER_CHARS} characters, got {len(where)}")
    names = {}

    def placeholder(match):
        key = f"_column_{len(names)}_"
        names[key] = match.group(1)
        return key

    text = re.sub(r"`([^`]*)`", placeholder, where.strip())
    try:
        tree = ast.parse(_boolean_words(text), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise InvalidArgument(f"trial filter {quoted(where)} is not an expression ({reason}); "
                              f"it takes {_FILTER_WORDS}") from None
    depth, stack = 0, [(tree, 0)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    if depth > MAX_FILTER_DEPTH:
        raise InvalidArgument(f"trial filter {quoted(where)} nests {depth} levels deep; at most {MAX_FILTER_DEPTH}")
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
                                 ast.Compare, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, *_SYMBOLS)):
            raise InvalidArgument(f"trial filter {quoted(where)} uses {type(node).__name__}; it takes {_FILTER_WORDS}")
    return tree, names


class _Filter:
    """A parsed filter evaluated over a table of text columns, one row per event."""

    def __init__(self, table: dict, numbers: dict, names: dict, what: str, n: int):
        self.table, self.numbers, self.names, self.what, self.n = table, numbers, names, what, n

    def condition(self, node) -> np.ndarray:
        """The bool array of a condition: a comparison, or conditions joined by and, or, not."""
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(value) for value in node.values]
            return np.logical_and.reduce(parts) if isinstance(node.op, ast.And) else np.logical_or.reduce(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.condition(node.operand)
        if isinstance(node, ast.Compare):
            result = np.ones(self.n, bool)
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                result &= self.compare(left, op, right)
                left = right
            return result
        raise InvalidArgument(f"{ast.unparse(node)[:40]!r} is not a condition; a trial filter takes {_FILTER_WORDS}")

    def column(self, node) -> str | None:
        """The column a node names (None for a value); an unknown column is an error naming the known ones."""
        if not isinstance(node, ast.Name):
            return None
        name = self.names.get(node.id, node.id)
        if name not in self.table:
            raise InvalidArgument(f"unknown events column {quoted(name)} in {self.what}; its columns are "
                                  f"{', '.join(self.table)}")
        return name

    def value(self, node):
        """A literal: a string or a number (a list of them after in / not in)."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.value(node.operand)
            if isinstance(inner, (int, float)):
                return -inner
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float)) \
                and not isinstance(node.value, bool):
            return node.value
        raise InvalidArgument(f"{ast.unparse(node)[:40]!r} is neither a column nor a value (a string, a number or, "
                              "after in, a list of them)")

    def as_numbers(self, name: str) -> np.ndarray:
        """A column's values as float64, missing values (n/a) NaN; text that is no number is an error."""
        if name in self.numbers:
            return self.numbers[name]
        values = self.table[name]
        out = np.full(len(values), np.nan)
        for i, text in enumerate(values):
            if text.strip() in MISSING:
                continue
            try:
                out[i] = float(text)
            except ValueError:
                raise InvalidArgument(f"events column {quoted(name)} of {self.what} holds {quoted(str(text))}, not a "
                                      "number, and is compared with a number; compare it with a string in "
                                      "quotes") from None
        return out

    def side(self, node, other_numeric: bool):
        """An operand as an array (a column) or a scalar, numeric when the comparison is."""
        name = self.column(node)
        if name is None:
            return self.value(node)
        return self.as_numbers(name) if other_numeric else self.table[name]

    def compare(self, left, op, right) -> np.ndarray:
        symbol = _SYMBOLS[type(op)]
        if isinstance(op, (ast.In, ast.NotIn)):
            if self.column(left) is None or self.column(right) is not None:
                raise InvalidArgument(f"{symbol!r} takes a column on its left and a list of values on its right")
            values = self.value(right)
            if not isinstance(values, list):
                values = [values]
            found = np.zeros(self.n, bool)
            for value in values:
                if isinstance(value, list):
                    raise InvalidArgument(f"{symbol!r} takes a flat list of values")
                found |= self.compare(left, ast.Eq(), ast.Constant(value))
            return found if isinstance(op, ast.In) else ~found
        names = [self.column(left), self.column(right)]
        if names == [None, None]:
            raise InvalidArgument(f"the comparison {ast.unparse(left)[:20]} {symbol} {ast.unparse(right)[:20]} names "
                                  "no events column")
        literals = [None if name is not None else self.value(node) for name, node in zip(names, (left, right))]
        if any(isinstance(v, list) for v in literals):
            raise InvalidArgument(f"a list of values goes after in or not in, not after {symbol!r}")
        if any(v is not None for v in literals):
            numeric = any(isinstance(v, (int, float)) for v in literals)
        else:  # two columns: numbers when both hold numbers only
            numeric = all(self._all_numbers(name) for name in names)
        a, b = self.side(left, numeric), self.side(right, numeric)
        with np.errstate(invalid="ignore"):
            return np.asarray(_ORDER[type(op)](a, b), dtype=bool) & np.ones(self.n, bool)

    def _all_numbers(self, name: str) -> bool:
        try:
            self.as_numbers(name)
        except InvalidArgument:
            return False
        return True
