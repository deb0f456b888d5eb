"""The run configuration: every stage's parameters, read from TOML and written back as TOML.

Each stage owns the frozen dataclass of its parameters (attribute kinds in
:mod:`acctgraph.features`, :class:`~acctgraph.graph.GraphParams`,
:class:`~acctgraph.cluster.detect.DetectParams`, :class:`~acctgraph.cluster.attach.AttachParams`,
:class:`~acctgraph.cluster.cohort.CohortParams`, :class:`~acctgraph.cluster.split.SplitParams`,
:class:`~acctgraph.cluster.merge.MergeParams`, :class:`~acctgraph.cluster.score.ScoreParams`,
:class:`~acctgraph.cluster.track.TrackParams`), next to the code that reads them and
checks their ranges; this module assembles them into one :class:`Config`.

Reading (:meth:`Config.from_toml`, :meth:`Config.from_dict`) checks every key and
every value's type against the dataclass field it sets, and names the full key in
the :class:`~acctgraph.core.errors.ConfigError` it raises (the CLI turns it into
exit status 2):

- an unknown key, at any level (``graph.x``, ``features.ip_range.x``,
  ``score.weights.x``), is refused; the keys of a table such as ``score.weights``
  are those of its default;
- ``int`` fields take integers, ``float`` fields take finite numbers (an integer
  is accepted), ``bool`` fields take ``true``/``false`` only (never ``1``/``0``, and
  a boolean is never taken as a number), ``str`` fields take strings; an optional
  field (``float | None``) is left at its default when its key is absent.

Writing: :meth:`Config.to_dict` gives every resolved parameter (recorded as
``parameters`` in ``run.json``) and :meth:`Config.to_toml` the same as a TOML file,
written as ``config.toml`` into every run folder: ``acctgraph run --config
OUT/config.toml`` on the same input reproduces the run. TOML has no null, so a
``None`` value is omitted (it is the default wherever TOML can set it); a feature
``alpha`` of ``None`` on a kind whose default is a number is written as
``graph.alpha``, the value the graph builder uses for it.
:meth:`Config.from_run` reads the configuration back from a run folder's ``run.json``.

TOML layout (every key optional)::

    seed = 42
    memory_budget = "8GB"             # how the work is split, never the output
                                      # (acctgraph.core.memory; default: a third of RAM)
    attributes = ["team_id", "surname:fuzzy", "exchanges.ja3"]   # declared columns
                                      # (acctgraph.features.declared)

    [map]                             # contract name = column name in your files
    account_id = "user_id"

    [features.ip_range]               # any kind: enabled, weight, hub_cap, alpha, own knobs
    weight = 0.3
    [features.co_activity]
    enabled = false

    [graph]
    min_edge_weight = 0.3
    [linkage]                         # record linkage of declared accounts columns
    min_probability = 0.5
    [detect]
    resolution = 0.05
    [attach]
    min_similarity = 0.3
    [cohort]
    min_contrast = 5.0
    [split]                           # cutting clusters that hold two operators' behaviour
    min_divergence = 6.0
    [merge]                           # joining flagged clusters that are one operation's pools
    max_divergence = 1.5
    [track]                           # operation ids across runs, benign decisions
    min_overlap = 0.25
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
>>> Config.from_dict(tomllib.loads(cfg.to_toml())) == cfg
True
>>> Config.from_dict({"detect": {"resolution": "high"}})
Traceback (most recent call last):
...
acctgraph.core.errors.ConfigError: detect.resolution: expected a number, got "high"
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from acctgraph.cluster.attach import AttachParams
from acctgraph.cluster.cohort import CohortParams
from acctgraph.cluster.detect import DetectParams
from acctgraph.cluster.merge import MergeParams
from acctgraph.cluster.score import ScoreParams
from acctgraph.cluster.split import SplitParams
from acctgraph.cluster.track import TrackParams
from acctgraph.core.errors import ConfigError
from acctgraph.core.memory import resolve_budget
from acctgraph.features import (
    CoActivity,
    EventCoActivity,
    EventColumn,
    ExtraColumn,
    Feature,
    PromptTemplate,
    declaration,
    default_features,
    parse_declaration,
)
from acctgraph.graph import GraphParams
from acctgraph.graph.linkage import LinkageParams

DEFAULT_SEED = 42
TOP_LEVEL_KEYS = (
    "seed",
    "memory_budget",
    "attributes",
    "map",
    "features",
    "graph",
    "linkage",
    "detect",
    "attach",
    "cohort",
    "split",
    "merge",
    "score",
    "track",
)
TOML_HEADER = (
    "# acctgraph run configuration: every parameter of the run that wrote it.\n"
    "# `acctgraph run --config config.toml` on the same input reproduces the run.\n"
)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything that determines a run's output besides its inputs."""

    seed: int = DEFAULT_SEED
    memory_budget: str | None = None
    """A size (``"8GB"``; :mod:`acctgraph.core.memory`); None: a third of the machine's memory.
    It sets how the work is split, never the output."""
    features: tuple[Feature, ...] = field(default_factory=default_features)
    graph: GraphParams = field(default_factory=GraphParams)
    linkage: LinkageParams = field(default_factory=LinkageParams)
    detect: DetectParams = field(default_factory=DetectParams)
    attach: AttachParams = field(default_factory=AttachParams)
    cohort: CohortParams = field(default_factory=CohortParams)
    split: SplitParams = field(default_factory=SplitParams)
    merge: MergeParams = field(default_factory=MergeParams)
    score: ScoreParams = field(default_factory=ScoreParams)
    track: TrackParams = field(default_factory=TrackParams)
    mapping: tuple[tuple[str, str], ...] = ()

    def feature(self, kind: str) -> Feature:
        """The configured feature of a kind."""
        for feature in self.features:
            if feature.kind == kind:
                return feature
        raise KeyError(kind)

    @property
    def prompt_template(self) -> PromptTemplate:
        """The prompt-template kind (always configured, maybe disabled); it shapes the reductions."""
        return _typed(self.feature(PromptTemplate.kind), PromptTemplate)

    @property
    def co_activity(self) -> CoActivity:
        """The co-activity kind (always configured, maybe disabled); it shapes the reductions."""
        return _typed(self.feature(CoActivity.kind), CoActivity)

    @property
    def declared(self) -> list[ExtraColumn | EventColumn | EventCoActivity]:
        """The declared attributes (``--attribute``), in declaration order."""
        return [
            f for f in self.features if isinstance(f, ExtraColumn | EventColumn | EventCoActivity)
        ]

    @property
    def linkage_columns(self) -> dict[str, tuple[str, float]]:
        """Declared accounts columns compared by record linkage, ``{kind: (comparison, parameter)}``.

        Record linkage (:mod:`acctgraph.graph.linkage`) needs at least
        ``linkage.min_columns`` (3) enabled declared accounts columns to estimate its
        model; with fewer, this is empty and the columns are shared values, weighed
        like a card or a device (a value held by few accounts links them).

        Raises
        ------
        ConfigError
            Fewer columns than that, one of them with a fuzzy, number or date comparison
            (those need record linkage).
        """
        declared = [f for f in self.features if isinstance(f, ExtraColumn) and f.enabled]
        if len(declared) >= self.linkage.min_columns:
            return {f.kind: (f.comparison, f.threshold) for f in declared}
        for f in declared:
            if f.comparison != "exact":
                raise ConfigError(
                    f"attribute {declaration(f)!r}: a {f.comparison} comparison needs record "
                    f"linkage, which compares at least {self.linkage.min_columns} declared "
                    f"accounts columns (it estimates its model from their agreements); declare "
                    f"more columns, or compare {f.name!r} exactly"
                )
        return {}

    @property
    def event_columns(self) -> list[tuple[str, str | None]]:
        """Enabled declared exchanges columns as ``(column, window or None)`` for the reductions."""
        return [
            (f.name, f.window if isinstance(f, EventCoActivity) else None)
            for f in self.features
            if isinstance(f, EventColumn | EventCoActivity) and f.enabled
        ]

    @property
    def weights(self) -> dict[str, float]:
        """Evidence weight per kind (``build_graph``'s ``weights``)."""
        return {f.kind: f.weight for f in self.features}

    @property
    def hub_caps(self) -> dict[str, int]:
        """Hub cap per kind (``build_graph``'s ``hub_caps``)."""
        return {f.kind: f.hub_cap for f in self.features}

    @property
    def similarities(self) -> dict[str, str]:
        """``"shared"`` or ``"cosine"`` per kind (``build_graph``'s ``similarities``)."""
        return {f.kind: f.similarity for f in self.features}

    @property
    def alphas(self) -> dict[str, float]:
        """Specificity exponent of the kinds that set one (the others use ``graph.alpha``)."""
        return {f.kind: f.alpha for f in self.features if f.alpha is not None}

    @property
    def infrastructure(self) -> frozenset[str]:
        """The kinds that only corroborate other evidence (``build_graph``'s ``infrastructure``)."""
        return frozenset(f.kind for f in self.features if f.infrastructure)

    @property
    def behaviour_kinds(self) -> list[str]:
        """Enabled cosine kinds that are not infrastructure: what attachment compares on."""
        return sorted(
            f.kind
            for f in self.features
            if f.enabled and f.similarity == "cosine" and not f.infrastructure
        )

    @property
    def soft_kinds(self) -> frozenset[str]:
        """Infrastructure and behaviour kinds: what strangers share (``detach_thin_members``)."""
        return self.infrastructure | frozenset(self.behaviour_kinds)

    def with_overrides(
        self,
        *,
        seed: int | None = None,
        mapping: Mapping[str, str] | None = None,
        attributes: list[str] | tuple[str, ...] = (),
        memory_budget: str | None = None,
    ) -> Config:
        """A copy with CLI overrides applied (seed, column mapping, declared attributes, budget).

        Raises
        ------
        ConfigError
            A declaration that cannot be read, or a column declared twice.
        """
        features = list(self.features)
        known = {f.kind for f in features}
        columns = {(type(f), getattr(f, "name", None)) for f in self.declared}
        for text in attributes:
            extra = parse_declaration(text)
            key = (type(extra), extra.name)
            if extra.kind in known or key in columns:
                if extra in features:
                    continue
                raise ConfigError(
                    f"attribute {text!r}: the column {extra.name!r} is declared twice"
                )
            features.append(extra)
            known.add(extra.kind)
            columns.add(key)
        merged = dict(self.mapping)
        merged.update(mapping or {})
        return dataclasses.replace(
            self,
            seed=self.seed if seed is None else seed,
            memory_budget=self.memory_budget if memory_budget is None else _budget(memory_budget),
            features=tuple(features),
            mapping=tuple(sorted(merged.items())),
        )

    # --- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every resolved parameter, JSON-ready (``None`` where a feature's ``alpha`` is unset)."""
        return {
            "seed": self.seed,
            "memory_budget": self.memory_budget,
            "attributes": [declaration(f) for f in self.declared],
            "map": dict(self.mapping),
            "features": {
                f.kind: {k: v for k, v in dataclasses.asdict(f).items() if k not in _SET_ELSEWHERE}
                for f in self.features
            },
            "graph": dataclasses.asdict(self.graph),
            "linkage": dataclasses.asdict(self.linkage),
            "detect": dataclasses.asdict(self.detect),
            "attach": dataclasses.asdict(self.attach),
            "cohort": dataclasses.asdict(self.cohort),
            "split": {
                **dataclasses.asdict(self.split),
                "identity_kinds": list(self.split.identity_kinds),
            },
            "merge": dataclasses.asdict(self.merge),
            "score": dataclasses.asdict(self.score),
            "track": dataclasses.asdict(self.track),
        }

    def to_toml(self) -> str:
        """Every resolved parameter as a TOML document that :meth:`from_toml` reads back.

        ``None`` values are omitted (TOML has no null); a feature ``alpha`` of ``None``
        on a kind whose default is a number is written as ``graph.alpha``, the value
        the graph builder uses in its place.

        Raises
        ------
        ConfigError
            When some other ``None`` value differs from its field's default, so that
            omitting it would not reproduce the configuration.
        """
        data = self.to_dict()
        for feature in self.features:
            entry = data["features"][feature.kind]
            for name, value in list(entry.items()):
                if value is not None:
                    continue
                default = _default(type(feature), name)
                if default is None:
                    del entry[name]
                elif name == "alpha":
                    entry[name] = self.graph.alpha
                else:  # pragma: no cover - no such field today
                    raise ConfigError(
                        f"features.{feature.kind}.{name}: None cannot be written in TOML "
                        f"and differs from the default {default!r}"
                    )
        return TOML_HEADER + tomli_w.dumps(_without_none(data))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build and validate a configuration from a (TOML-shaped) mapping.

        Raises
        ------
        ConfigError
            On an unknown key, a value of the wrong type, or a value out of its
            range; the message names the full key (``detect.resolution``).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"expected a table of options, got {_show(data)}")
        unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown configuration keys {unknown}; expected some of {list(TOP_LEVEL_KEYS)}"
            )
        seed = _checked(data.get("seed", DEFAULT_SEED), int, "seed")
        budget = data.get("memory_budget")
        budget = None if budget is None else _budget(_checked(budget, str, "memory_budget"))
        attributes = _checked(data.get("attributes", []), list[str], "attributes")
        mapping = _checked(data.get("map", {}), dict[str, str], "map")
        base = cls().with_overrides(attributes=attributes)
        by_kind = {f.kind: f for f in base.features}
        features = data.get("features", {})
        if not isinstance(features, Mapping):
            raise ConfigError(f"features: expected a table of kinds, got {_show(features)}")
        for kind, options in features.items():
            if kind not in by_kind:
                raise ConfigError(
                    f"features.{kind}: unknown attribute kind; known: {sorted(by_kind)}"
                )
            by_kind[kind] = _replace(
                by_kind[kind], options, f"features.{kind}", exclude=_SET_ELSEWHERE
            )
        return cls(
            seed=seed,
            memory_budget=budget,
            features=tuple(by_kind[f.kind] for f in base.features),
            graph=_replace(GraphParams(), data.get("graph", {}), "graph"),
            linkage=_replace(LinkageParams(), data.get("linkage", {}), "linkage"),
            detect=_replace(DetectParams(), data.get("detect", {}), "detect"),
            attach=_replace(AttachParams(), data.get("attach", {}), "attach"),
            cohort=_replace(CohortParams(), data.get("cohort", {}), "cohort"),
            split=_replace(SplitParams(), data.get("split", {}), "split"),
            merge=_replace(MergeParams(), data.get("merge", {}), "merge"),
            score=_replace(ScoreParams(), data.get("score", {}), "score"),
            track=_replace(TrackParams(), data.get("track", {}), "track"),
            mapping=tuple(sorted(mapping.items())),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a configuration file (see the module docstring for its layout).

        Raises
        ------
        ConfigError
            When the file cannot be read, is not TOML, or fails :meth:`from_dict`;
            the message starts with the file's path.
        """
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

    @classmethod
    def from_run(cls, folder: str | Path) -> Config:
        """The configuration of a finished run, from the ``parameters`` of its ``run.json``.

        Raises
        ------
        ConfigError
            When ``run.json`` cannot be read or its parameters fail :meth:`from_dict`.
        """
        path = Path(folder) / "run.json"
        try:
            parameters = json.loads(path.read_text(encoding="utf-8"))["parameters"]
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read run record: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{path}: not a run record with parameters") from None
        try:
            return cls.from_dict(parameters)
        except ConfigError as exc:
            raise ConfigError(f"{path}: parameters: {exc}") from None


# A feature option set by another key (an extra column's name comes from ``attributes``).
_SET_ELSEWHERE = frozenset({"name", "comparison", "tolerance", "window"})


def _budget(text: str) -> str:
    """``text`` once it reads as a size (:func:`~acctgraph.core.memory.resolve_budget`)."""
    resolve_budget(text)
    return text


def _default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` of ``cls``."""
    for item in dataclasses.fields(cls):
        if item.name == name:
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
            return item.default
    raise KeyError(name)  # pragma: no cover - called with field names only


def _without_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without its ``None`` values, at every level."""
    return {
        key: _without_none(value) if isinstance(value, Mapping) else value
        for key, value in data.items()
        if value is not None
    }


def _replace(obj: Any, options: Any, where: str, *, exclude: frozenset[str] = frozenset()) -> Any:
    """``obj`` with ``options`` applied, each key and value type checked against its field."""
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where}: expected a table of options, got {_show(options)}")
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj) if f.init} - exclude
    unknown = sorted(set(options) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown options {unknown}; known: {sorted(names)}")
    merged = {}
    for name, value in options.items():
        key = f"{where}.{name}"
        checked = _checked(value, hints[name], key)
        current = getattr(obj, name)
        if isinstance(current, dict) and current:  # a table's keys are those of its default
            extra = sorted(set(checked) - set(current))
            if extra:
                raise ConfigError(f"{key}: unknown keys {extra}; known: {sorted(current)}")
            checked = {**current, **checked}
        merged[name] = checked
    try:
        return dataclasses.replace(obj, **merged)
    except TypeError as exc:  # pragma: no cover - keys and types are checked above
        raise ConfigError(f"{where}: {exc}") from None


def _checked(value: Any, hint: Any, key: str) -> Any:
    """``value`` if it has type ``hint`` (an int taken as a float where a float is expected,
    a list as a tuple where a tuple is expected); otherwise a ConfigError naming ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        for option in options:
            try:
                return _checked(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_describe(hint)}, got {_show(value)}")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{key}: expected a finite number, got {_show(value)}")
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif origin is dict:
        if isinstance(value, Mapping):
            key_type, value_type = args
            for item in value:
                _checked(item, key_type, f"{key} key")
            return {item: _checked(v, value_type, f"{key}.{item}") for item, v in value.items()}
    elif origin in (list, tuple):
        if isinstance(value, list | tuple):
            element = args[0]
            items = [_checked(v, element, f"{key}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
    else:  # pragma: no cover - a parameter type this reader does not know yet
        raise TypeError(f"{key}: unsupported parameter type {hint!r}")
    raise ConfigError(f"{key}: expected {_describe(hint)}, got {_show(value)}")


def _describe(hint: Any) -> str:
    """What a value of type ``hint`` looks like in TOML, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args if arg is not type(None))
    if origin is dict:
        return f"a table of {_describe(args[1]).removeprefix('a ').removeprefix('an ')}s"
    if origin in (list, tuple):
        return f"an array of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[hint]


def _show(value: Any) -> str:
    """``value`` as TOML would spell it (strings quoted), shortened for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # pragma: no cover - circular structures cannot come from TOML
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_F = TypeVar("_F", bound=Feature)


def _typed(feature: Feature, cls: type[_F]) -> _F:
    if not isinstance(feature, cls):  # pragma: no cover - each kind has one class
        raise ConfigError(
            f"features.{cls.kind}: expected {cls.__name__}, got {type(feature).__name__}"
        )
    return feature
