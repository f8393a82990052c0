"""Errors raised by the library.

Each class names the gRPC status code the service layer maps it to, so that a
library error reaches a client as a status whose message names the problem.
The library itself imports no grpc: ``code`` is the status name as a string.
"""


class BraindecodeError(Exception):
    """Base class; ``code`` is the gRPC status name the service answers with."""

    code = "INTERNAL"


class InvalidArgument(BraindecodeError, ValueError):
    """Bad input: corrupt or unsupported data, wrong shapes, NaNs, missing fields."""

    code = "INVALID_ARGUMENT"


class NotFound(BraindecodeError, KeyError):
    """An id that does not exist (or belongs to another tenant)."""

    code = "NOT_FOUND"

    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ResourceExhausted(BraindecodeError):
    """A configured limit was exceeded (size, memory, concurrency)."""

    code = "RESOURCE_EXHAUSTED"


class AlreadyExists(BraindecodeError):
    """What a call would create is stored already, differently (ALREADY_EXISTS)."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(BraindecodeError):
    """The request is well formed but the system is not in a state to serve it."""

    code = "FAILED_PRECONDITION"


class PermissionDenied(BraindecodeError):
    """The caller is authenticated but may not do this."""

    code = "PERMISSION_DENIED"


class DataLoss(BraindecodeError):
    """Stored data that the store's records promise is gone or damaged (a server-side fault)."""

    code = "DATA_LOSS"


QUOTED_CHARS = 40
"""Most characters of a caller's input that an error message quotes."""


def quoted(value) -> str:
    """``repr`` of a caller's input for an error message, cut to its first ``QUOTED_CHARS``
    characters, so that a message never echoes a whole (possibly huge) input back."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= QUOTED_CHARS:
        return repr(value)
    return f"{text[:QUOTED_CHARS]!r}... ({len(text)} characters)"


def shortened(text: str) -> str:
    """``text`` as it is, or its first ``QUOTED_CHARS`` characters and its length when longer (for
    names that a message already puts in quotes)."""
    return text if len(text) <= QUOTED_CHARS else f"{text[:QUOTED_CHARS]}... ({len(text)} characters)"
