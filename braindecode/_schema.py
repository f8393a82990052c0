"""Typed documents (settings, preprocessing and job specs) checked as a whole.

A document class is a :class:`Checked` pydantic model: its fields say the types, ranges and
defaults, its attribute docstrings say what each key does, and :func:`reference` turns that
into a table. Checking a document collects every problem instead of stopping at the first:

- a key the class does not have, a required key that is absent, and a value of the wrong
  type or out of range each add one :class:`Problem` and leave :data:`INVALID` in the field;
- the class's :meth:`Checked.rules` (checks across keys) still run, and skip invalid fields;
- :meth:`Problems.raise_if_any` raises one error that lists them all.

A problem's text is a template: ``{0}``, ``{1}`` ... name the keys of its ``paths`` (rendered
with the document's noun, e.g. "key 'outputs.retrieval.k'"), other fields are its ``values``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import re
import types
import typing

import pydantic
from pydantic import ConfigDict, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from braindecode.errors import InvalidArgument, NotFound, quoted

class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID = _Invalid()
"""The value a field holds after its check failed (rules skip it)."""

_PROBLEMS = "problems"  # the validation context key that holds the Problems being collected


@dataclasses.dataclass
class Problem:
    """One problem of a document: ``text.format(*keys, **values)``, keys rendered from ``paths``."""

    text: str
    paths: list = dataclasses.field(default_factory=list)
    values: dict = dataclasses.field(default_factory=dict)
    not_found: bool = False


class Problems:
    """Problems found in a document, raised together as one error that lists them all.

    Parameters
    ----------
    title : str
        Names the document in the error ("job spec has 2 problems: ...").
    noun : str
        Names a key in the messages ("key", "spec key", "setting").
    source : callable, optional
        ``source(path)`` -> text appended to the key, e.g. the environment variable a value came from.
    """

    def __init__(self, title: str, noun: str = "key", source=None):
        self.title, self.noun, self.source = title, noun, source
        self.items = []

    def add(self, text: str, *paths, not_found: bool = False, **values) -> None:
        """Add a problem; ``paths`` are tuples of keys relative to the document being checked."""
        self.items.append(Problem(text, [tuple(p) for p in paths], values, not_found))

    def add_text(self, message: str, not_found: bool = False) -> None:
        """Add a message as it is (no keys to render)."""
        self.add("{message}", message=message, not_found=not_found)

    def add_error(self, error: Exception) -> None:
        """Add a library error's message (a NotFound counts as an unknown id)."""
        self.add_text(str(error), not_found=isinstance(error, NotFound))

    def rebase(self, start: int, key) -> None:
        """Prefix ``key`` to the paths of the problems added since ``len(self) == start``."""
        for item in self.items[start:]:
            item.paths = [(key,) + path for path in item.paths]

    def call(self, check, *args) -> None:
        """Run a library check; the InvalidArgument it raises becomes a problem."""
        try:
            check(*args)
        except InvalidArgument as exc:
            self.add_error(exc)

    def __len__(self) -> int:
        return len(self.items)

    def key(self, path: tuple) -> str:
        """How a message names the key at ``path`` (the whole document when ``path`` is empty)."""
        if not path:
            return self.title
        name = f"{self.noun} '{'.'.join(str(p) for p in path)}'"
        extra = self.source(path) if self.source else ""
        return f"{name} ({extra})" if extra else name

    def messages(self) -> list:
        return [item.text.format(*(self.key(p) for p in item.paths), **item.values) for item in self.items]

    def raise_if_any(self) -> None:
        """NotFound when every problem is an unknown id, else InvalidArgument; the message lists all."""
        if not self.items:
            return
        listed = "; ".join(f"({i}) {message}" for i, message in enumerate(self.messages(), 1))
        noun = "problem" if len(self.items) == 1 else "problems"
        error = NotFound if all(item.not_found for item in self.items) else InvalidArgument
        raise error(f"{self.title} has {len(self.items)} {noun}: {listed}")


@dataclasses.dataclass(frozen=True)
class Expect:
    """``Annotated`` metadata: how messages and references describe a type, instead of the derived phrase."""

    text: str


def _bounds(metadata) -> dict:
    """``{"ge": 1, ...}`` from constraints such as pydantic's ``Field(ge=1)``."""
    return {name: getattr(item, name) for item in metadata for name in ("ge", "gt", "le", "lt")
            if getattr(item, name, None) is not None}


def _number_phrase(noun: str, bounds: dict, integer: bool) -> str:
    low = bounds.get("ge", None if "gt" not in bounds else bounds["gt"] + 1 if integer else None)
    high = bounds.get("le", None if "lt" not in bounds else bounds["lt"] - 1 if integer else None)
    article = "an" if noun == "integer" else "a"
    if low is not None and high is not None:
        return f"{article} {noun} from {low} to {high}"
    if integer and low == 1:
        return "a positive integer"
    if integer and low == 0:
        return "a non-negative integer"
    if low is not None:
        return f"{article} {noun} >= {low}"
    if "gt" in bounds:
        return f"{article} {noun} > {bounds['gt']}"
    if high is not None:
        return f"{article} {noun} <= {high}"
    return f"{article} {noun}"


def _flatten(annotation, metadata: tuple):
    """(type, metadata) with ``Annotated`` layers and ``Field`` constraints unpacked."""
    metadata = list(metadata)
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        metadata = extra + metadata
    unpacked = []
    for item in metadata:
        unpacked.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, unpacked


def expected(annotation, metadata: tuple = ()) -> str:
    """What a value of ``annotation`` must be, in words ("a positive integer", "one of lss, window")."""
    annotation, metadata = _flatten(annotation, metadata)
    for item in metadata:
        if isinstance(item, Expect):
            return item.text
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [expected(a) for a in args if a is not type(None)]
        return " or ".join(options)
    if origin is typing.Literal:
        return f"one of {', '.join(str(a) for a in args)}" if len(args) > 1 else repr(args[0])
    if annotation is bool:
        return "true or false"
    if annotation in (int, float):
        return _number_phrase("integer" if annotation is int else "number", _bounds(metadata), annotation is int)
    if annotation is str:
        return "a non-empty string" if any(getattr(m, "min_length", 0) for m in metadata) else "a string"
    if origin is tuple:
        return f"[{', '.join(expected(a) for a in args)}]"
    if origin in (list, dict):
        words = expected(args[-1] if args else typing.Any)
        plural, count = re.subn(r"^an? (.*?\b(string|number|integer))\b", r"\1s", words)
        return f"a {'list' if origin is list else 'dict'} of {plural if count else f'items, each {words}'}"
    if isinstance(annotation, type) and issubclass(annotation, Checked):
        return f"a dict of {', '.join(annotation.model_fields)}"
    return "any value"


def _context_problems(info) -> Problems | None:
    return (info.context or {}).get(_PROBLEMS)


class Checked(pydantic.BaseModel):
    """A document whose problems are all collected when it is checked (see the module docstring).

    ``Model(**values)`` and :func:`check_document` raise :class:`InvalidArgument` listing every
    problem; :meth:`collect` adds them to a :class:`Problems` and returns the instance, with
    :data:`INVALID` in the fields that failed, so that further checks can go on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    def __init__(self, /, **values):
        problems = Problems(type(self).__name__, "argument")
        self.__pydantic_validator__.validate_python(values, self_instance=self, context={_PROBLEMS: problems})
        problems.raise_if_any()

    # pydantic's own flag (as on BaseModel.__init__): documents nested in another are validated
    # directly, within their parent's context, not through this __init__
    __init__.__pydantic_base_init__ = True

    @classmethod
    def collect(cls, value, problems: Problems):
        """``value`` (a dict, or an instance) as an instance; problems go to ``problems``."""
        return check_type(cls, value, problems)

    def rules(self, problems: Problems) -> None:
        """Checks across keys, run after the keys' own checks; fields that failed hold INVALID.

        Paths of the problems added are relative to this document.
        """

    @model_validator(mode="after")
    def _run_rules(self, info):
        problems = _context_problems(info)
        if problems is None:  # validated through pydantic's API directly
            problems = Problems(type(self).__name__, "argument")
            self.rules(problems)
            problems.raise_if_any()
        else:
            self.rules(problems)
        return self

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data, info):
        problems = _context_problems(info)
        if problems is None or not isinstance(data, dict):
            return data
        allowed = ", ".join(cls.model_fields)
        kept = {}
        for key, value in data.items():
            if key in cls.model_fields:
                kept[key] = value
            else:
                problems.add("unknown {0} (allowed: {allowed})", (str(key),), allowed=allowed)
        for name, field in cls.model_fields.items():
            if field.is_required() and name not in kept:
                problems.add("missing {0}", (name,))
                kept[name] = INVALID
        return kept

    @field_validator("*", mode="wrap")
    @classmethod
    def _collect_field(cls, value, handler, info):
        problems = _context_problems(info)
        if problems is None:
            return handler(value)
        if value is INVALID:
            return INVALID
        start = len(problems)
        try:
            result = handler(value)
        except ValidationError:
            field = cls.model_fields[info.field_name]
            problems.add("{0} must be {expected}, got {got}", (),
                         expected=expected(field.annotation, tuple(field.metadata)), got=quoted(value))
            result = INVALID
        problems.rebase(start, info.field_name)
        return result


@functools.cache
def _adapter(annotation) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(annotation)


def check_type(annotation, value, problems: Problems):
    """``value`` checked against ``annotation`` (a Checked class, or a union of them); problems go to
    ``problems`` and the value that failed becomes :data:`INVALID`."""
    try:
        return _adapter(annotation).validate_python(value, context={_PROBLEMS: problems})
    except ValidationError:
        problems.add("{0} must be {expected}, got {got}", (), expected=expected(annotation), got=quoted(value))
        return INVALID


def check_document(annotation, value, title: str, noun: str = "key"):
    """``value`` checked against ``annotation`` (see :func:`check_type`); InvalidArgument listing every
    problem, the document named ``title`` and its keys ``noun``."""
    problems = Problems(title, noun)
    checked = check_type(annotation, value, problems)
    problems.raise_if_any()
    return checked


def parameter_default(function, name: str):
    """The default of ``function``'s parameter ``name``, for a document key whose default is the function's."""
    return inspect.signature(function).parameters[name].default


def valid(value) -> bool:
    """Whether a checked field holds a usable value (neither INVALID nor None)."""
    return value is not INVALID and value is not None


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    try:
        return json.dumps(field.get_default(call_default_factory=True))
    except TypeError:
        return repr(field.get_default(call_default_factory=True))


def _models(annotation) -> list:
    """The Checked classes an annotation holds (itself, the members of a union)."""
    annotation, _ = _flatten(annotation, ())
    if isinstance(annotation, type) and issubclass(annotation, Checked):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def reference(model, prefix: str = "", env=None) -> list:
    """Rows ``(key, type, default, description)`` for every key of ``model``, nested documents after
    their key; ``env(model, name)``, when given, adds the environment variable of each value key."""
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _models(field.annotation)
        row = [f"`{key}`", expected(field.annotation, tuple(field.metadata)), "" if nested else _default(field),
               " ".join((field.description or "").split()).replace("``", "`")]
        if env is not None:
            row.insert(1, "" if nested else f"`{env(model, name)}`")
        rows.append(tuple(row))
        if len(nested) == 1:  # a union of documents (e.g. per modality) is listed by its own reference
            rows.extend(reference(nested[0], f"{key}.", env))
    return rows


def markdown_table(header: tuple, rows: list) -> str:
    """``rows`` under ``header`` as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
