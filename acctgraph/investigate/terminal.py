"""Plain text for the terminal: attacker-written values made visible and capped, and text tables.

Both :meth:`~acctgraph.investigate.explain.AccountExplanation.to_text` and
:meth:`~acctgraph.investigate.expand.Expansion.to_text` render their tables
with these.
"""

from __future__ import annotations

from collections.abc import Sequence

from acctgraph.core.textsafe import cap, visible

#: Characters of a value shown in a terminal table before it is cut.
VALUE_WIDTH = 48


def terminal_text(text: object, width: int = VALUE_WIDTH) -> str:
    """Attacker-written text for the terminal: invisible characters escaped, long text capped.

    Examples
    --------
    >>> print(terminal_text("\\u202eevil\\u202c reversed" * 5, 20))
    \\u202eevil\\u202c re…
    """
    return cap(visible("" if text is None else str(text)), width)


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> list[str]:
    """A plain-text table: columns padded to their widest cell; ``right`` = right-aligned columns.

    Cells must already be made safe (:func:`terminal_text`).

    Examples
    --------
    >>> print("\\n".join(text_table(["kind", "n"], [["payment", "12"], ["ip", "3"]], right=[1])))
      kind      n
      payment  12
      ip        3
    """
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  " + "  ".join(parts).rstrip()

    return [line(headers)] + [line(r) for r in rows]
