"""Errors raised by acctgraph.

Every error derives from :class:`AcctGraphError`. The CLI turns them into a
message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class AcctGraphError(Exception):
    """Base class of every error acctgraph raises on purpose."""


class InputError(AcctGraphError):
    """An input file cannot be used as it is.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    path
        The file concerned, if any.
    column
        The column concerned, if any.
    examples
        A few offending rows or values, shown to the user (the first five are kept).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        column: str | None = None,
        examples: Sequence[object] = (),
    ) -> None:
        self.path = path
        self.column = column
        self.examples = list(examples)[:5]
        parts = []
        if path is not None:
            parts.append(f"{path}")
        if column is not None:
            parts.append(f"column {column!r}")
        where = ": ".join(parts)
        text = f"{where}: {message}" if where else message
        if self.examples:
            text += "\n  examples: " + "; ".join(repr(e) for e in self.examples)
        super().__init__(text)


class ConfigError(AcctGraphError):
    """A parameter or configuration file is invalid."""


def check_parameters(checks: Sequence[tuple[bool, str]]) -> None:
    """Raise :class:`ConfigError` with the message of the first check that failed.

    >>> check_parameters([(True, "fine"), (False, "x.y must be positive")])
    Traceback (most recent call last):
    ...
    acctgraph.core.errors.ConfigError: x.y must be positive
    """
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
