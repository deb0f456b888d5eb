"""igraph's random generator: seeded blocks that give it back afterwards.

igraph draws every random choice (Leiden's refinement, force-directed layouts)
from one process-wide generator, which igraph 1.0 can set but not report. Code
that needs reproducible draws runs them inside :func:`seeded_igraph`, which
installs ``random.Random(seed)`` under a process-wide lock and afterwards
reinstalls the generator recorded here (``random``, igraph's default, unless
:func:`set_igraph_generator` installed another). Community detection and the
graph pages' layouts use it, so neither disturbs a user's own igraph draws.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import igraph as ig


class _IgraphGenerator:
    """The generator igraph draws from outside :func:`seeded_igraph` (igraph cannot report it)."""

    def __init__(self) -> None:
        self.installed: Any = random  # what igraph installs when it is imported
        self.lock = threading.RLock()


_IGRAPH = _IgraphGenerator()


def set_igraph_generator(generator: Any) -> None:
    """Install ``generator`` as igraph's random generator, and record it.

    Use this instead of ``igraph.set_random_number_generator`` when you install a
    generator of your own: igraph 1.0 cannot report which generator is installed,
    so :func:`seeded_igraph` reinstalls the one recorded here after each seeded call.

    Parameters
    ----------
    generator
        What ``igraph.set_random_number_generator`` accepts: the ``random`` module,
        a ``random.Random``, or ``None`` for igraph's own generator.
    """
    with _IGRAPH.lock:
        ig.set_random_number_generator(generator)
        _IGRAPH.installed = generator


@contextmanager
def seeded_igraph(seed: int) -> Iterator[None]:
    """Inside the block, igraph draws from ``random.Random(seed)``; afterwards from the
    generator installed before (see :func:`set_igraph_generator`).

    The block holds a process-wide lock, so seeded blocks in several threads do not
    draw from each other's generators.

    >>> import igraph as ig
    >>> with seeded_igraph(3):
    ...     first = ig.Graph.Erdos_Renyi(n=20, p=0.3).get_edgelist()
    >>> with seeded_igraph(3):
    ...     first == ig.Graph.Erdos_Renyi(n=20, p=0.3).get_edgelist()
    True
    """
    with _IGRAPH.lock:
        ig.set_random_number_generator(random.Random(seed))
        try:
            yield
        finally:
            ig.set_random_number_generator(_IGRAPH.installed)
