"""The run configuration: every stage's parameters, TOML in and out.

Each stage owns the frozen dataclass of its parameters (attribute kinds in
:mod:`acctgraph.features`, :class:`~acctgraph.graph.GraphParams`,
:class:`~acctgraph.cluster.detect.DetectParams`, :class:`~acctgraph.cluster.attach.AttachParams`,
:class:`~acctgraph.cluster.score.ScoreParams`),
next to the code that reads them; this module assembles them into one
:class:`Config`, validates a TOML file against them, and writes the resolved
values back out so that ``run.json`` records every parameter.

TOML layout (every key optional)::

    seed = 42
    attributes = ["team_id"]          # extra accounts columns as further kinds

    [map]                             # contract name = column name in your files
    account_id = "user_id"

    [features.ip_range]               # any kind: enabled, weight, hub_cap, own knobs
    weight = 0.3
    [features.co_activity]
    enabled = false

    [graph]
    min_edge_weight = 0.3
    [detect]
    resolution = 0.05
    [attach]
    min_similarity = 0.3
    [score]
    flag_threshold = 0.5
    [score.weights]
    volume = 0.1

Examples
--------
>>> cfg = Config.from_dict({"seed": 7, "features": {"ip_range": {"weight": 0.3}}})
>>> cfg.seed, cfg.feature("ip_range").weight
(7, 0.3)
>>> Config.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acctgraph.cluster.attach import AttachParams
from acctgraph.cluster.detect import DetectParams
from acctgraph.cluster.score import ScoreParams
from acctgraph.core.errors import ConfigError
from acctgraph.features import ExtraColumn, Feature, default_features
from acctgraph.graph import GraphParams

DEFAULT_SEED = 42


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything that determines a run's output besides its inputs."""

    seed: int = DEFAULT_SEED
    features: tuple[Feature, ...] = field(default_factory=default_features)
    graph: GraphParams = field(default_factory=GraphParams)
    detect: DetectParams = field(default_factory=DetectParams)
    attach: AttachParams = field(default_factory=AttachParams)
    score: ScoreParams = field(default_factory=ScoreParams)
    mapping: tuple[tuple[str, str], ...] = ()

    def feature(self, kind: str) -> Feature:
        """The configured feature of a kind."""
        for feature in self.features:
            if feature.kind == kind:
                return feature
        raise KeyError(kind)

    @property
    def weights(self) -> dict[str, float]:
        return {f.kind: f.weight for f in self.features}

    @property
    def hub_caps(self) -> dict[str, int]:
        return {f.kind: f.hub_cap for f in self.features}

    @property
    def similarities(self) -> dict[str, str]:
        return {f.kind: f.similarity for f in self.features}

    @property
    def alphas(self) -> dict[str, float]:
        return {f.kind: f.alpha for f in self.features if f.alpha is not None}

    @property
    def infrastructure(self) -> frozenset[str]:
        return frozenset(f.kind for f in self.features if f.infrastructure)

    @property
    def behaviour_kinds(self) -> list[str]:
        """Enabled cosine kinds that are not infrastructure: what attachment compares on."""
        return sorted(
            f.kind
            for f in self.features
            if f.enabled and f.similarity == "cosine" and not f.infrastructure
        )

    def with_overrides(
        self,
        *,
        seed: int | None = None,
        mapping: Mapping[str, str] | None = None,
        attributes: list[str] | tuple[str, ...] = (),
    ) -> Config:
        """A copy with CLI overrides applied (seed, column mapping, extra attribute columns)."""
        features = list(self.features)
        known = {f.kind for f in features}
        for column in attributes:
            extra = ExtraColumn(name=column)
            if extra.kind not in known:
                features.append(extra)
                known.add(extra.kind)
        merged = dict(self.mapping)
        merged.update(mapping or {})
        return dataclasses.replace(
            self,
            seed=self.seed if seed is None else seed,
            features=tuple(features),
            mapping=tuple(sorted(merged.items())),
        )

    # --- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every resolved parameter, JSON/TOML-ready."""
        features: dict[str, Any] = {}
        for feature in self.features:
            entry = dataclasses.asdict(feature)
            features[feature.kind] = entry
        return {
            "seed": self.seed,
            "attributes": [f.name for f in self.features if isinstance(f, ExtraColumn)],
            "map": dict(self.mapping),
            "features": {
                k: {kk: vv for kk, vv in v.items() if kk != "name"} for k, v in features.items()
            },
            "graph": dataclasses.asdict(self.graph),
            "detect": dataclasses.asdict(self.detect),
            "attach": dataclasses.asdict(self.attach),
            "score": dataclasses.asdict(self.score),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build and validate a configuration from a (TOML-shaped) mapping."""
        data = dict(data)
        allowed = {"seed", "attributes", "map", "features", "graph", "detect", "attach", "score"}
        unknown = set(data) - allowed
        if unknown:
            raise ConfigError(
                f"unknown configuration keys {sorted(unknown)}; expected some of {sorted(allowed)}"
            )
        base = cls().with_overrides(attributes=list(data.get("attributes", [])))
        by_kind = {f.kind: f for f in base.features}
        for kind, options in dict(data.get("features", {})).items():
            if kind not in by_kind:
                raise ConfigError(
                    f"features.{kind}: unknown attribute kind; known: {sorted(by_kind)}"
                )
            by_kind[kind] = _replace(by_kind[kind], options, f"features.{kind}")
        mapping = data.get("map", {})
        if not isinstance(mapping, Mapping) or not all(
            isinstance(v, str) for v in mapping.values()
        ):
            raise ConfigError('map: expected a table of contract_name = "column name"')
        return cls(
            seed=int(data.get("seed", DEFAULT_SEED)),
            features=tuple(by_kind[f.kind] for f in base.features),
            graph=_replace(GraphParams(), data.get("graph", {}), "graph"),
            detect=_replace(DetectParams(), data.get("detect", {}), "detect"),
            attach=_replace(AttachParams(), data.get("attach", {}), "attach"),
            score=_replace(ScoreParams(), data.get("score", {}), "score"),
            mapping=tuple(sorted(mapping.items())),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a configuration file (see the module docstring for its layout)."""
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def _replace(obj: Any, options: Any, where: str) -> Any:
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where}: expected a table of options")
    names = {f.name for f in dataclasses.fields(obj) if f.init}
    unknown = set(options) - names
    if unknown:
        raise ConfigError(f"{where}: unknown options {sorted(unknown)}; known: {sorted(names)}")
    current = {name: getattr(obj, name) for name in options}
    merged = dict(options)
    for name, value in options.items():
        if isinstance(current[name], dict) and isinstance(value, Mapping):
            merged[name] = {**current[name], **value}
    try:
        return dataclasses.replace(obj, **merged)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
