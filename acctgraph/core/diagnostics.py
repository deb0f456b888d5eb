"""Counted warnings: nothing is dropped silently.

Every stage that turns a bad optional value into "missing", or keeps a row it
could not fully use, records it here with a count and a few examples. The log
is written into ``run.json`` and printed by the CLI.

Examples
--------
>>> log = WarningLog()
>>> log.add("ip_malformed", "exchanges.ip is not an IP address", count=3,
...         examples=["999.1.1.1", "abc"], column="ip", path="exchanges.parquet")
>>> log.add("ip_malformed", "exchanges.ip is not an IP address", count=2, examples=["x"])
>>> log.as_records()[0]["count"]
5
>>> log.as_records()[0]["examples"]
['999.1.1.1', 'abc', 'x']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_EXAMPLES = 5


@dataclass
class Warning_:
    """One kind of problem with its running count and first examples."""

    code: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)
    column: str | None = None
    path: str | None = None


class WarningLog:
    """An ordered collection of counted warnings, merged by ``code``."""

    def __init__(self) -> None:
        self._items: dict[str, Warning_] = {}

    def add(
        self,
        code: str,
        message: str,
        *,
        count: int,
        examples: Iterable[object] = (),
        column: str | None = None,
        path: str | None = None,
    ) -> None:
        """Record ``count`` occurrences of problem ``code`` (no-op when ``count`` is 0).

        The first ``message``, ``column`` and ``path`` of a code are kept; up to
        :data:`MAX_EXAMPLES` distinct examples are kept, each cut to 200 characters.
        """
        if count <= 0:
            return
        item = self._items.get(code)
        if item is None:
            item = self._items[code] = Warning_(code, message, column=column, path=path)
        item.count += int(count)
        for example in examples:
            if len(item.examples) >= MAX_EXAMPLES:
                break
            text = str(example)
            if len(text) > 200:
                text = text[:200] + "…"
            if text not in item.examples:
                item.examples.append(text)

    def put(
        self,
        code: str,
        message: str,
        *,
        count: int,
        examples: Iterable[object] = (),
        column: str | None = None,
        path: str | None = None,
    ) -> None:
        """Record the *total* for ``code``, replacing any earlier record of it.

        For problems counted in one pass over a whole table (the usage stage's
        address checks): running that pass again on the same dataset must not
        double the count.

        Examples
        --------
        >>> log = WarningLog()
        >>> for _ in range(2):
        ...     log.put("ip_not_global", "private address", count=4)
        >>> log.count("ip_not_global")
        4
        """
        self._items.pop(code, None)
        self.add(code, message, count=count, examples=examples, column=column, path=path)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items.values())

    def count(self, code: str) -> int:
        """Total count recorded for ``code`` (0 when never seen)."""
        item = self._items.get(code)
        return item.count if item else 0

    def as_records(self) -> list[dict[str, object]]:
        """Warnings as plain dicts, sorted by code, for JSON output."""
        return [
            {
                "code": w.code,
                "message": w.message,
                "count": w.count,
                "examples": list(w.examples),
                "column": w.column,
                "path": w.path,
            }
            for w in sorted(self._items.values(), key=lambda w: w.code)
        ]
