"""Questions about a finished run: why is this account here (explain), who else is this (expand).

- :mod:`~acctgraph.investigate.explain`: why an account is in its cluster, what links two accounts;
- :mod:`~acctgraph.investigate.expand`: accounts ranked by their link to known-bad seeds;
- :mod:`~acctgraph.investigate.behaviour`: per-account behaviour profiles (prompt shares,
  hours, IP ranges, capabilities) that expand and explain compare;
- :mod:`~acctgraph.investigate.bipartite`: the run's accounts and bipartite graph as both read them;
- :mod:`~acctgraph.investigate.terminal` and :mod:`~acctgraph.investigate.records`: their
  plain-text and JSON renderings.
"""
