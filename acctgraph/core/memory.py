"""The memory budget: reading it, the machine's default, and the plan of partitions it sets.

A run holds some tables for its whole length (the per-account reductions, the
attribute table, the graph) and builds others for one stage only (the group-bys
over the exchanges, the graph builder's per-row tables, the pairs of the
projection). The *resident* part is set by the input's size; the *transient*
part shrinks when a stage works on less at a time: the reductions on a partition of
the accounts, the graph builder on a partition of the values, the projection on
fewer pairs, with the hub rings' pairs in temporary files. :func:`plan_memory`
estimates both from row counts alone, before the pass over the exchanges, and
chooses the partitions, the pair budget and the ring memory so that the estimated
peak stays under the budget. The plan never changes a run's output, only how the
work is split.

Budgets are written as a number and a unit, as Kubernetes writes them: ``k``,
``M``, ``G``, ``T`` are powers of 1000, ``Ki``, ``Mi``, ``Gi``, ``Ti`` powers of
1024; a trailing ``B`` is allowed (``8GB``, ``8G``, ``7.5GiB``, ``512Mi``); a bare
number is bytes.

Examples
--------
>>> parse_size("8GB"), parse_size("512 MiB"), parse_size("1.5G")
(8000000000, 536870912, 1500000000)
>>> plan = plan_memory(8 * GB, n_accounts=200_000, n_exchanges=5_000_000, source="test")
>>> plan.usage_partitions, plan.fits()
(1, True)
>>> small = plan_memory(int(1.4 * GB), n_accounts=200_000, n_exchanges=5_000_000, source="test")
>>> small.graph_partitions >= plan.graph_partitions, small.pair_budget < plan.pair_budget
(True, True)
>>> small.estimate_bytes < plan.estimate_bytes, small.fits()
(True, True)
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import asdict, dataclass

from acctgraph.core.errors import ConfigError

KB, MB, GB, TB = 10**3, 10**6, 10**9, 10**12
_UNITS = {
    "": 1,
    "k": KB,
    "m": MB,
    "g": GB,
    "t": TB,
    "ki": 1 << 10,
    "mi": 1 << 20,
    "gi": 1 << 30,
    "ti": 1 << 40,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([kKmMgGtT]i?)?[bB]?\s*$")

DEFAULT_SHARE = 1 / 3
"""The default budget is this share of the machine's physical memory: the rest is left to
the operating system's page cache (the exchanges are read from it) and to other programs."""
MIN_BUDGET = 256 * MB
"""No budget below this is accepted: the interpreter and its libraries alone take ~150 MB."""

# Costs measured on the incident preset (1M accounts, 39.8M exchanges) and bench seed 1
# (200k accounts, 5M exchanges); docs/benchmarks.md, "Memory budget" and "Coded values";
# refitted to the incident and incident-chatty once the run's tables held account positions
# and keys instead of id text ("Account positions and keys"): every estimate at or above the
# measured peak.
BASE_BYTES = 400 * MB
"""Interpreter, libraries, the accounts table's first copy."""
RESIDENT_PER_EXCHANGE = 55
"""Tables kept from the reductions to the end (attribute rows, IP usage, hours, days; the
graph's incidence), per exchange, with the memory the allocator keeps after the reductions."""
RESIDENT_PER_ACCOUNT = 600
"""Per-account tables (accounts, emails, activity, the graph's vertex tables)."""
USAGE_PER_EXCHANGE = 115
"""The reductions' group-by state and decoded pages, per exchange, divided among the
account partitions."""
COHORT_PER_EXCHANGE = 65
"""The stages after the graph (cohorts, scores, template samples, graph pages): the prompt
template rows they select and join, per exchange; not partitioned."""
GRAPH_PER_EXCHANGE = 40
"""The graph builder's tables over all rows (account, kind and value hash per row; the
incidence and its sort), per exchange (attribute rows are about 0.9 per exchange)."""
GRAPH_PART_PER_EXCHANGE = 150
"""The graph builder's per-partition tables (second hashes, value counts, joins), per
exchange, divided among the value partitions."""
BYTES_PER_PAIR = 64
"""Raw pairs of the projection: source, target, kind, products, the sparse sum (per pair)."""
ROWS_PER_EXCHANGE = 0.9
"""Attribute rows per exchange where the per-exchange costs of the graph and the later stages
were measured (the incident: 35.8M rows, 39.8M exchanges). A world with more rows per
exchange (chattier users: more distinct prompts, addresses and windows) is planned, once
its attribute table is known, as if it had ``rows / ROWS_PER_EXCHANGE`` exchanges."""
LOAD_PER_EXCHANGE = 120
"""The load stage's duplicate-row pass (each row's 64-bit hash, each account's set of
distinct hashes), per exchange of one account partition. Its hash tables grow by doubling,
so the cost per row depends on where a partition falls between powers of two: measured
with the accounts table, 45.3M rows in one partition peaked at 2.96 GB (56 bytes a row
over :data:`BASE_BYTES`) and 79.7M rows at 9.6 GB (115 bytes a row)."""
MIN_LOAD_ROWS = 1_000_000
"""The fewest exchanges per partition of the duplicate-row pass, whatever the budget."""
PROJECTION_WORKERS = 2
MAX_PAIR_BUDGET = 8_000_000
MIN_PAIR_BUDGET = 250_000
MAX_PARTITIONS = 64
MIN_RING_MEMORY = 64 * MB
RING_PER_EXCHANGE = 45
"""The projection's hub-ring pairs in memory, per exchange (when not in files)."""
MIN_GRAPH_PARTITIONS = 4
"""The graph builder always runs on at least this many value partitions (as its group-bys
did before the plan): a quarter of the per-row tables at a time."""


def load_rows_per_part(budget: int) -> int:
    """Exchanges per account partition of the load stage's duplicate-row pass, so that the
    pass's state stays within ``budget`` bytes (each partition reads the exchanges once).

    >>> load_rows_per_part(8 * GB), load_rows_per_part(MIN_BUDGET)
    (63333333, 1000000)
    """
    return max(MIN_LOAD_ROWS, (budget - BASE_BYTES) // LOAD_PER_EXCHANGE)


def part_label(name: str, part: int, parts: int, started: float, *, noun: str = "part") -> str:
    """A partitioned step's progress line: ``name (part 2 of 4, about 9 s left)``.

    ``part`` counts from 0; ``started`` is when part 0 started (``time.perf_counter()``);
    the time left assumes the parts take equally long. One part: ``name`` alone.

    >>> part_label("graph: incidence", 0, 4, time.perf_counter())
    'graph: incidence (part 1 of 4)'
    """
    if parts == 1:
        return name
    left = ""
    if part:
        seconds = (time.perf_counter() - started) / part * (parts - part)
        left = f", about {seconds:.0f} s left"
    return f"{name} ({noun} {part + 1} of {parts}{left})"


def parse_size(text: str | int) -> int:
    """Bytes from ``8GB``, ``7.5GiB``, ``512Mi``, ``4g`` or an integer (bytes).

    Raises
    ------
    ConfigError
        When the text is not a size.

    >>> parse_size(4096), parse_size("4k"), parse_size("2Ti")
    (4096, 4000, 2199023255552)
    >>> parse_size("lots")
    Traceback (most recent call last):
    ...
    acctgraph.core.errors.ConfigError: memory budget 'lots': expected a size such as 8GB, 7.5GiB or 512MiB
    """
    if isinstance(text, bool):
        raise ConfigError(f"memory budget {text!r}: expected a size such as 8GB, 7.5GiB or 512MiB")
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"memory budget {text!r}: expected a size such as 8GB, 7.5GiB or 512MiB")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


def format_size(n: int | float) -> str:
    """``8.0 GB`` (decimal units, one decimal).

    >>> format_size(8_000_000_000), format_size(512 * 2**20), format_size(999)
    ('8.0 GB', '536.9 MB', '999 B')
    """
    for unit, scale in (("TB", TB), ("GB", GB), ("MB", MB), ("kB", KB)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def machine_memory() -> tuple[int | None, int | None]:
    """The machine's physical and available memory in bytes (``/proc/meminfo``), or None.

    A container's cgroup limit, when lower, counts as the physical memory.
    """
    total = available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    value = int(rest.split()[0]) * 1024
                    if key == "MemTotal":
                        total = value
                    else:
                        available = value
    except (OSError, ValueError, IndexError):
        pass
    limit = _cgroup_limit()
    if limit is not None and (total is None or limit < total):
        total = limit
        available = min(available, limit) if available is not None else limit
    if total is None and hasattr(os, "sysconf"):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            total = None
    return total, available


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def resolve_budget(setting: str | int | None) -> tuple[int, str]:
    """The budget in bytes and where it comes from (for ``run.json``).

    ``setting`` None gives the default: :data:`DEFAULT_SHARE` of the machine's
    physical memory (8 GB where it cannot be read).

    Raises
    ------
    ConfigError
        A setting that is not a size, or below :data:`MIN_BUDGET`.
    """
    if setting is None:
        total, _ = machine_memory()
        if total is None:
            return 8 * GB, "default: 8 GB (the machine's memory could not be read)"
        budget = max(MIN_BUDGET, int(total * DEFAULT_SHARE))
        return budget, f"default: a third of the machine's {format_size(total)}"
    budget = parse_size(setting)
    if budget < MIN_BUDGET:
        raise ConfigError(
            f"memory budget {setting!r}: at least {format_size(MIN_BUDGET)} is needed"
        )
    return budget, f"set: {setting}"


@dataclass(frozen=True)
class MemoryPlan:
    """How a run splits its work to stay within ``budget_bytes`` (recorded in ``run.json``).

    Attributes
    ----------
    budget_bytes, source
        The budget and where it comes from.
    machine_bytes, available_bytes
        The machine's physical and available memory when the run started (None if unknown).
    resident_bytes
        Estimated memory that no partitioning reduces (the tables held across stages
        and the graph builder's per-row tables).
    estimate_bytes
        Estimated peak with this plan.
    usage_partitions
        Account partitions of the pass over the exchanges (each reads the exchanges once).
    graph_partitions
        Hash partitions of the graph builder's per-row group-bys.
    pair_budget
        Raw pairs each projection worker makes at once.
    ring_memory
        The most bytes the projection's hub-ring pairs may take in memory; beyond it
        they are kept in temporary files (``TMPDIR``) and read back chunk by chunk.
    """

    budget_bytes: int
    source: str
    machine_bytes: int | None
    available_bytes: int | None
    resident_bytes: int
    estimate_bytes: int
    usage_partitions: int
    graph_partitions: int
    pair_budget: int
    ring_memory: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields, with the sizes also in words (not the available memory, which
        changes from one run to the next: run.json is the same for the same inputs)."""
        record: dict[str, object] = dict(asdict(self))
        del record["available_bytes"]
        record["budget"] = format_size(self.budget_bytes)
        record["estimate"] = format_size(self.estimate_bytes)
        return record

    def fits(self) -> bool:
        """True when the estimated peak is within the budget."""
        return self.estimate_bytes <= self.budget_bytes


def plan_memory(
    budget_bytes: int,
    *,
    n_accounts: int,
    n_exchanges: int,
    source: str,
    machine: tuple[int | None, int | None] | None = None,
    n_attribute_rows: int | None = None,
) -> MemoryPlan:
    """The fewest partitions (and the largest pair budget) whose estimated peak fits the budget.

    ``n_attribute_rows`` (once the attribute table is built) sizes the tables held across
    stages, the graph's and the later stages' by the attribute rows when they are more than
    :data:`ROWS_PER_EXCHANGE` per exchange; before that, every cost follows the exchanges.

    The estimate is the largest of three peaks: the reductions' (:data:`BASE_BYTES`, the
    per-account tables they produce, and their group-by state divided by the
    partitions), the graph's (the resident tables, the builder's tables over all rows,
    and the larger of its per-partition tables and the projection's pairs) and the
    later stages' (the resident tables and the template rows they join). When nothing fits, the plan uses
    the most partitions and the smallest pair budget, and :meth:`MemoryPlan.fits` is False.
    """
    machine = machine if machine is not None else machine_memory()
    rows = n_exchanges
    if n_attribute_rows is not None:
        rows = max(n_exchanges, int(n_attribute_rows / ROWS_PER_EXCHANGE))
    resident = BASE_BYTES + RESIDENT_PER_EXCHANGE * rows + RESIDENT_PER_ACCOUNT * n_accounts
    graph_rows = GRAPH_PER_EXCHANGE * rows
    usage_state = USAGE_PER_EXCHANGE * n_exchanges
    # The reductions' tables are about half the resident ones (the attribute table is the rest).
    usage_free = budget_bytes - BASE_BYTES - (resident - BASE_BYTES) // 2
    usage_parts = (
        MAX_PARTITIONS
        if usage_free <= 0
        else max(1, min(MAX_PARTITIONS, math.ceil(usage_state / usage_free)))
    )
    graph_free = budget_bytes - resident - graph_rows
    graph_state = GRAPH_PART_PER_EXCHANGE * rows
    graph_parts = (
        MAX_PARTITIONS
        if graph_free <= 0
        else max(MIN_GRAPH_PARTITIONS, min(MAX_PARTITIONS, math.ceil(graph_state / graph_free)))
    )
    # The pairs' share is the whole free memory: their batches and the ring pairs kept in
    # memory peak at different moments (measured: 8M pairs and 0.5 GB of ring pairs on the
    # incident peak no higher than the builder's partitions). The rings get a third of it:
    # with half (1.9 GB on the incident) the graph stage peaked 0.9 GiB higher, above the
    # estimate, for 7 s less.
    pairs = int(max(graph_free, 0) / (BYTES_PER_PAIR * PROJECTION_WORKERS))
    ring_memory = max(MIN_RING_MEMORY, graph_free // 3)
    pair_budget = max(MIN_PAIR_BUDGET, min(MAX_PAIR_BUDGET, pairs))
    usage_peak = BASE_BYTES + (resident - BASE_BYTES) // 2 + usage_state / usage_parts
    graph_peak = (
        resident
        + graph_rows
        + max(
            graph_state / graph_parts,
            BYTES_PER_PAIR * PROJECTION_WORKERS * pair_budget,
            min(ring_memory, RING_PER_EXCHANGE * rows),
        )
    )
    later_peak = resident + COHORT_PER_EXCHANGE * rows
    return MemoryPlan(
        budget_bytes=budget_bytes,
        source=source,
        machine_bytes=machine[0],
        available_bytes=machine[1],
        resident_bytes=int(resident + graph_rows),
        estimate_bytes=int(max(usage_peak, graph_peak, later_peak)),
        usage_partitions=usage_parts,
        graph_partitions=graph_parts,
        pair_budget=pair_budget,
        ring_memory=int(ring_memory),
    )
