"""Synthetic worlds with ground truth: accounts, exchanges and the operators among them.

The simulator builds a platform's worth of legitimate people, families,
organisations, automation and developers, plus several operators with distinct
tradecraft, and the dirt real exports carry. It exists so the detector can be
tuned and measured; docs/simulator.md explains every knob, population, tradecraft
and kind of dirt.

Examples
--------
>>> from acctgraph.simulate import PRESETS, simulate_frames
>>> accounts, exchanges, labels = simulate_frames("tiny", seed=7)
>>> sorted(labels["kind"].unique().to_list())
['automation', 'developer', 'family', 'individual', 'operator', 'organisation']
"""

from __future__ import annotations

from acctgraph.simulate.dirt import DIRT_KINDS, HOSTILE_STRINGS
from acctgraph.simulate.operators import FRAUD_KIND
from acctgraph.simulate.output import SimulationSummary, simulate, simulate_frames
from acctgraph.simulate.spec import (
    ARCHETYPES,
    CAREFUL,
    PRESETS,
    Tradecraft,
    WorldSpec,
    parse_scale,
)
from acctgraph.simulate.timeline import first_weeks

__all__ = [
    "ARCHETYPES",
    "CAREFUL",
    "DIRT_KINDS",
    "FRAUD_KIND",
    "HOSTILE_STRINGS",
    "PRESETS",
    "SimulationSummary",
    "Tradecraft",
    "WorldSpec",
    "first_weeks",
    "parse_scale",
    "simulate",
    "simulate_frames",
]
