"""Giant handling in detect: split only parts that are separated from the rest."""

from __future__ import annotations

import dataclasses
import itertools
import random
from concurrent.futures import ThreadPoolExecutor

import igraph as ig
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

import acctgraph.cluster.detect as detect_module
from acctgraph.cluster.detect import (
    DetectParams,
    conductance_lower_bound,
    detect_communities,
)
from acctgraph.core.errors import ConfigError
from acctgraph.graph import randomness
from acctgraph.graph.randomness import set_igraph_generator


def _cliques(sizes: list[int], bridge: float) -> ig.Graph:
    edges, weights, offset, firsts = [], [], 0, []
    for size in sizes:
        firsts.append(offset)
        for a, b in itertools.combinations(range(offset, offset + size), 2):
            edges.append((a, b))
            weights.append(1.0)
        offset += size
    for a, b in zip(firsts, firsts[1:]):  # one weak bridge between consecutive cliques
        edges.append((a, b))
        weights.append(bridge)
    graph = ig.Graph(n=offset, edges=edges)
    graph.es["weight"] = weights
    return graph


def test_a_giant_chaining_separate_groups_is_split() -> None:
    graph = _cliques([10, 10, 10], bridge=0.5)
    # A tiny resolution makes the first pass merge everything into one 30-account giant.
    params = DetectParams(resolution=0.01, max_cluster_size=12, giant_size=12)
    result = detect_communities(graph, params=params, seed=3)
    assert len(set(result.membership)) == 3
    assert all(len({result.membership[v] for v in range(i, i + 10)}) == 1 for i in (0, 10, 20))
    assert result.resplit and all(entry["parts"] >= 2 for entry in result.resplit)
    assert all(
        part["conductance"] <= params.split_conductance for part in result.resplit[0]["separated"]
    )


def test_a_well_linked_giant_stays_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _cliques([30], bridge=0.0)
    result = detect_communities(
        graph, params=DetectParams(max_cluster_size=10, giant_size=10), seed=3
    )
    assert len(set(result.membership)) == 1
    # K30: λ₂ = 30/29, so no set has conductance below 15/29; no Leiden sweep is needed.
    assert result.resplit == [
        {"size": 30, "kept": "no separated part", "conductance_at_least": 0.5172}
    ]
    # Without the bound, the sweep runs every resolution and reaches the same answer.
    monkeypatch.setattr(detect_module, "conductance_lower_bound", lambda graph: 0.0)
    swept = detect_communities(
        graph, params=DetectParams(max_cluster_size=10, giant_size=10), seed=3
    )
    assert swept.membership == result.membership
    assert swept.resplit == [{"size": 30, "kept": "no separated part", "max_resolution": 64.0}]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(3, 9).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.floats(0.05, 5.0)),
                min_size=1,
                max_size=30,
            ),
        )
    )
)
def test_the_bound_holds_for_every_vertex_set(case) -> None:
    n, raw = case
    edges = {}
    for a, b, w in raw:
        if a != b:
            edges[min(a, b), max(a, b)] = w
    graph = ig.Graph(n=n, edges=list(edges))
    graph.es["weight"] = list(edges.values())
    bound = conductance_lower_bound(graph)
    degree = [0.0] * n
    for (a, b), w in edges.items():
        degree[a] += w
        degree[b] += w
    total = sum(degree)
    for size in range(1, n):
        for subset in itertools.combinations(range(n), size):
            inside = set(subset)
            cut = sum(w for (a, b), w in edges.items() if (a in inside) != (b in inside))
            volume = sum(degree[v] for v in inside)
            smaller = min(volume, total - volume)
            if smaller > 0:
                assert bound <= cut / smaller + 1e-9


def test_same_seed_same_partition() -> None:
    graph = _cliques([12, 9, 14, 7], bridge=0.5)
    params = DetectParams(resolution=0.01, max_cluster_size=15, giant_size=15)
    first = detect_communities(graph, params=params, seed=5)
    second = detect_communities(graph, params=params, seed=5)
    assert first.membership == second.membership and first.resplit == second.resplit


def _igraph_draws() -> list[tuple[int, int]]:
    """Draws from igraph's installed generator: the edges of a random graph."""
    return ig.Graph.Erdos_Renyi(n=40, p=0.2).get_edgelist()


@pytest.fixture
def igraph_generator():
    """Leave igraph with the generator it has on import (the ``random`` module) afterwards."""
    yield
    set_igraph_generator(random)


# A giant re-split: several seeded Leiden calls in one detect call.
GIANT = _cliques([12, 9, 14, 7], bridge=0.5)
GIANT_PARAMS = DetectParams(resolution=0.01, max_cluster_size=15, giant_size=15)


def test_detect_leaves_a_generator_of_ones_own_in_place(igraph_generator) -> None:
    set_igraph_generator(random.Random(99))
    expected = _igraph_draws()
    set_igraph_generator(random.Random(99))
    result = detect_communities(GIANT, params=GIANT_PARAMS, seed=5)
    assert result.resplit  # several Leiden calls ran
    assert randomness._IGRAPH.installed is not random
    assert _igraph_draws() == expected  # igraph continues the same sequence


def test_detect_leaves_the_default_generator_and_its_state(igraph_generator) -> None:
    random.seed(7)
    expected = _igraph_draws(), random.random()
    random.seed(7)
    detect_communities(GIANT, params=GIANT_PARAMS, seed=5)
    assert (_igraph_draws(), random.random()) == expected


def test_the_partition_does_not_depend_on_the_installed_generator(igraph_generator) -> None:
    reference = detect_communities(GIANT, params=GIANT_PARAMS, seed=5)
    for generator in (random.Random(1), random.Random(2), random):
        set_igraph_generator(generator)
        _igraph_draws()  # move the installed generator on
        again = detect_communities(GIANT, params=GIANT_PARAMS, seed=5)
        assert (again.membership, again.resplit) == (reference.membership, reference.resplit)


def test_detect_calls_in_threads_give_the_serial_partitions() -> None:
    seeds = [1, 2, 3, 4, 5, 6]
    serial = [detect_communities(GIANT, params=GIANT_PARAMS, seed=s).membership for s in seeds]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(
            pool.map(
                lambda s: detect_communities(GIANT, params=GIANT_PARAMS, seed=s).membership, seeds
            )
        )
    assert threaded == serial


def test_split_conductance_is_validated() -> None:
    with pytest.raises(ConfigError):
        DetectParams(split_conductance=1.5)


def _detach_reference(graph, membership, fraction, next_label):
    """The loop the vectorised detach replaced: edge order sums, upper median, label order."""
    if fraction <= 0 or graph.ecount() == 0:
        return 0
    weights = graph.es["weight"]
    strength = [0.0] * graph.vcount()
    for (source, target), weight in zip(graph.get_edgelist(), weights):
        if membership[source] == membership[target]:
            strength[source] += weight
            strength[target] += weight
    groups: dict[int, list[int]] = {}
    for vertex, label in enumerate(membership):
        groups.setdefault(label, []).append(vertex)
    detached = 0
    for label in sorted(groups):
        members = groups[label]
        if len(members) < 3:
            continue
        median = sorted(strength[v] for v in members)[len(members) // 2]
        for vertex in members:
            if strength[vertex] < fraction * median:
                membership[vertex] = next_label
                next_label += 1
                detached += 1
    return detached


def test_detach_matches_the_reference_loop() -> None:
    from acctgraph.cluster.detect import _canonical, _detach_weak_members

    rng = random.Random(1)
    for _ in range(200):
        n = rng.randint(1, 60)
        graph = ig.Graph(
            n=n, edges=[(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 200))]
        )
        graph.simplify()
        graph.es["weight"] = [
            rng.choice([0.1, 0.3, 1.0, rng.random()]) for _ in range(graph.ecount())
        ]
        membership = [rng.randrange(max(1, n // 5)) for _ in range(n)]
        for fraction in (0.0, 0.1, 0.5):
            expected, got = list(membership), list(membership)
            assert _detach_reference(
                graph, expected, fraction, max(membership) + 1
            ) == _detach_weak_members(graph, got, fraction, max(membership) + 1)
            assert _canonical(expected) == _canonical(got)


def test_two_households_a_detached_member_bridged_become_two_clusters() -> None:
    from acctgraph.cluster.detect import _canonical, split_broken_clusters

    # Households 0-2 and 3-5, each a triangle; vertex 6 linked to both was detached.
    ends = np.array([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 6), (6, 3)])
    after = split_broken_clusters(ends, [0] * 7, [0, 0, 0, 0, 0, 0, 1])
    assert _canonical(after) == [0, 0, 0, 1, 1, 1, 2]
    # Parts that were apart before (joined by behaviour, not links) stay together.
    ends = np.array([(0, 1), (1, 2), (3, 4), (4, 5), (5, 6)])
    after = split_broken_clusters(ends, [0] * 7, [0, 0, 0, 0, 0, 1, 0])
    assert _canonical(after) == [0, 0, 0, 0, 0, 1, 2]  # 6 lost its link to 3-4 through 5
    # Two households that move out together (one unit) are cut apart as well.
    ends = np.array([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 6), (6, 3)])
    after = split_broken_clusters(ends, [0] * 7, [1, 1, 1, 1, 1, 1, 0])
    assert _canonical(after) == [0, 0, 0, 1, 1, 1, 2]


def test_a_household_pair_bridged_in_a_large_graph_is_cut_apart() -> None:
    # In a large graph Leiden joins two households linked through one weak third party;
    # the weak member rule detaches it, and the households must not stay one cluster.
    edges, weights, n = [], [], 0
    for _ in range(100):
        edges += list(itertools.combinations(range(n, n + 6), 2))
        weights += [1.0] * 15
        n += 6
    first, second, bridge = list(range(n, n + 3)), list(range(n + 3, n + 6)), n + 6
    edges += list(itertools.combinations(first, 2)) + list(itertools.combinations(second, 2))
    edges += [(first[0], bridge), (bridge, second[0])]
    weights += [1.0] * 6 + [0.05, 0.05]
    graph = ig.Graph(n=n + 7, edges=edges)
    graph.es["weight"] = weights
    membership = detect_communities(graph, params=DetectParams(), seed=1).membership
    assert membership[first[0]] != membership[second[0]]
    assert len({membership[v] for v in first}) == len({membership[v] for v in second}) == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_every_detected_cluster_is_connected_by_its_own_links(seed: int) -> None:
    # Groups with strong links inside and a few weak links between: whatever Leiden
    # joins and the weak-member rule detaches, each cluster holds together by its links.
    rng = random.Random(seed)
    n, edges, weights = 0, [], []
    for _ in range(100):  # a large graph: joining two small groups costs modularity little
        edges += list(itertools.combinations(range(n, n + 6), 2))
        weights += [1.0] * 15
        n += 6
    start = n
    for _ in range(rng.randint(2, 12)):
        size = rng.randint(2, 5)
        edges += list(itertools.combinations(range(n, n + size), 2))
        weights += [1.0] * (size * (size - 1) // 2)
        n += size
    for _ in range(rng.randint(0, n - start)):  # weak links among the small groups
        a, b = rng.randrange(start, n), rng.randrange(start, n)
        if a != b:
            edges.append((a, b))
            weights.append(rng.choice([0.02, 0.05, 0.2, 0.5]))
    graph = ig.Graph(n=n, edges=edges)
    graph.es["weight"] = weights
    graph.simplify(combine_edges="sum")
    params = DetectParams(min_member_strength=rng.choice([0.1, 0.3, 0.6]))
    membership = detect_communities(graph, params=params, seed=seed).membership
    for label in set(membership):
        members = [v for v, m in enumerate(membership) if m == label]
        assert graph.subgraph(members).is_connected(), (label, members)


@pytest.mark.parametrize("factor", [0, 3, 48, 2048])
def test_the_resplit_ceiling_is_a_power_of_two_up_to_1024(factor: int) -> None:
    with pytest.raises(ConfigError, match="max_resolution_factor"):
        DetectParams(max_resolution_factor=factor)


def test_the_resplit_stops_at_its_resolution_ceiling() -> None:
    # A chain of six 6-cliques joined by single edges is one giant at a low resolution; the
    # re-split finds its separated parts only after enough doublings.
    edges = []
    for clique in range(6):
        base = clique * 6
        edges += [(base + a, base + b) for a in range(6) for b in range(a + 1, 6)]
        if clique:
            edges.append((base - 1, base))
    graph = ig.Graph(n=36, edges=edges)
    graph.es["weight"] = [1.0] * graph.ecount()

    def run(factor: int) -> tuple[int, list[dict]]:
        params = DetectParams(
            max_cluster_size=10, giant_size=10, resolution=1e-3, max_resolution_factor=factor
        )
        communities = detect_communities(graph, params=params, seed=1)
        return len(set(communities.membership)), communities.resplit

    clusters, resplit = run(4)
    assert clusters == 1 and resplit == [
        {"size": 36, "kept": "no separated part", "max_resolution": 0.004}
    ]
    clusters, resplit = run(64)
    assert clusters > 1 and resplit[0]["resolution"] == 0.032


def test_graph_page_layouts_leave_a_generator_of_ones_own_in_place(igraph_generator) -> None:
    from acctgraph.viz.pages import layout

    set_igraph_generator(random.Random(7))
    expected = _igraph_draws()
    set_igraph_generator(random.Random(7))
    first = layout(6, [(0, 1), (1, 2), (3, 4)], [1.0, 2.0, 1.0], seed=3)
    assert _igraph_draws() == expected
    assert layout(6, [(0, 1), (1, 2), (3, 4)], [1.0, 2.0, 1.0], seed=3) == first


def test_until_stable_stops_on_a_graph_whose_partition_keeps_changing() -> None:
    """igraph's own "until stable" loop never ends on this graph; ours stops within
    MAX_ITERATIONS. Run in a subprocess so that a regression fails instead of hanging."""
    import subprocess
    import sys
    from pathlib import Path

    data = Path(__file__).parent / "data" / "oscillating_leiden.json"
    code = (
        "import json, igraph as ig\n"
        "from acctgraph.cluster.detect import DetectParams, _leiden\n"
        f"d = json.load(open({str(data)!r}))\n"
        "g = ig.Graph(n=d['n'], edges=d['edges']); g.es['weight'] = d['weights']\n"
        "m = _leiden(g, DetectParams(), d['resolution'], d['seed'])\n"
        "assert len(m) == d['n']\n"
        "print(len(set(m)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 1


def test_bounded_loop_gives_igraphs_partition_when_it_converges() -> None:
    graph = _cliques([6, 7, 8, 5], bridge=0.2)
    with randomness.seeded_igraph(5):
        theirs = graph.community_leiden(
            objective_function="modularity", weights="weight", beta=0.01, n_iterations=-1
        ).membership
    ours = detect_module._leiden(graph, DetectParams(), 1.0, 5)
    assert ours == list(theirs)


def _beside_small_groups(
    edges: list[tuple[int, int]], weights: list[float], n: int, n_small_groups: int
) -> ig.Graph:
    """The graph of ``edges`` on ``n`` vertices plus ``n_small_groups`` unrelated
    triangles: a large graph's total weight, where modularity's resolution limit bites."""
    for _ in range(n_small_groups):
        for a, b in itertools.combinations(range(n, n + 3), 2):
            edges.append((a, b))
            weights.append(1.0)
        n += 3
    graph = ig.Graph(n=n, edges=edges)
    graph.es["weight"] = weights
    return graph


def _household_beside_an_operation(n_small_groups: int = 20000) -> ig.Graph:
    """An 80-account operation, a household of four (tight: card and home) tied to
    it by one link, and many unrelated small groups (a large graph's total weight)."""
    rng = random.Random(4)
    edges: list[tuple[int, int]] = []
    weights: list[float] = []
    for a, b in itertools.combinations(range(80), 2):
        if rng.random() < 0.3:
            edges.append((a, b))
            weights.append(1.0)
    for a, b in itertools.combinations(range(80, 84), 2):
        edges.append((a, b))
        weights.append(2.0)
    edges.append((0, 80))
    weights.append(1.0)
    return _beside_small_groups(edges, weights, 84, n_small_groups)


def test_a_household_tied_to_an_operation_by_one_link_is_split_off() -> None:
    graph = _household_beside_an_operation()
    # Modularity's resolution limit: on the whole graph Leiden puts the household inside.
    merged = detect_communities(graph, params=DetectParams(max_cluster_size=5000), seed=1)
    assert merged.membership[80] == merged.membership[0]
    # By default the 84-account cluster is re-run alone and the separated household leaves it,
    # while the operation stays one cluster.
    split = detect_communities(graph, params=DetectParams(), seed=1).membership
    assert split[80] != split[0]
    assert len({split[v] for v in range(80, 84)}) == 1
    assert len({split[v] for v in range(80)}) == 1


def _teams_of_one_operation(n_small_groups: int = 20000) -> ig.Graph:
    """Eight teams of ten (each tight: one card or VM image), a few weaker links between
    every two teams (their templates), and many unrelated small groups."""
    rng = random.Random(7)
    edges: list[tuple[int, int]] = []
    weights: list[float] = []
    teams = [list(range(t * 10, t * 10 + 10)) for t in range(8)]
    for team in teams:
        for a, b in itertools.combinations(team, 2):
            edges.append((a, b))
            weights.append(2.0)
    for t1, t2 in itertools.combinations(range(8), 2):
        for _ in range(2):
            edges.append((rng.choice(teams[t1]), rng.choice(teams[t2])))
            weights.append(0.5)
    return _beside_small_groups(edges, weights, 80, n_small_groups)


def test_an_operation_made_of_separated_teams_stays_whole() -> None:
    graph = _teams_of_one_operation()
    whole = detect_communities(graph, params=DetectParams(), seed=1).membership
    assert len({whole[v] for v in range(80)}) == 1
    # every team is a separated part: without the parts limit the operation would shatter
    shattered = detect_communities(graph, params=DetectParams(max_split_parts=100), seed=1)
    assert len({shattered.membership[v] for v in range(80)}) == 8


def test_thin_members_tied_only_by_soft_values_are_detached() -> None:
    from acctgraph.cluster.detect import _detach_thin as detach_thin_members

    # accounts 0-3: one cluster. 0 and 1 share a card (firm); 2 and 3 share only a prompt
    # with 0 and 1. 1 and 2 are thin (two exchanges), 3 is not.
    incidence = pl.DataFrame(
        {
            "account_index": [0, 1, 0, 1, 2, 3],
            "value_index": [0, 0, 1, 1, 1, 1],
        }
    )
    values = pl.DataFrame({"value_index": [0, 1], "attribute_kind": ["payment", "prompt_template"]})
    exchanges = np.array([50, 2, 2, 40])
    out, n = detach_thin_members(
        [0, 0, 0, 0],
        incidence,
        values,
        exchanges,
        soft_kinds={"prompt_template", "ip_range"},
        min_exchanges=4,
    )
    assert n == 1
    assert out[0] == out[1] == out[3] and out[2] != out[0]  # the quiet card holder stays
    unchanged, none = detach_thin_members(
        [0, 0, 0, 0], incidence, values, exchanges, soft_kinds={"prompt_template"}, min_exchanges=0
    )
    assert (unchanged, none) == ([0, 0, 0, 0], 0)


def test_a_quiet_family_leaves_an_operation_together() -> None:
    from acctgraph.cluster.detect import _detach_thin as detach_thin_members

    # accounts 0-2: an operation's active accounts sharing a card; 3-5: a family sharing its
    # own card, one or two exchanges each, tied to the operation by a prompt and a range only.
    incidence = pl.DataFrame(
        {
            "account_index": [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 3],
            "value_index": [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3],
        }
    )
    values = pl.DataFrame(
        {
            "value_index": [0, 1, 2, 3],
            "attribute_kind": ["payment", "payment", "prompt_template", "ip_range"],
        }
    )
    exchanges = np.array([300, 250, 280, 1, 2, 1])

    def detach(n_exchanges: np.ndarray) -> tuple[list[int], int]:
        return detach_thin_members(
            [0] * 6,
            incidence,
            values,
            n_exchanges,
            soft_kinds={"prompt_template", "ip_range"},
            min_exchanges=4,
        )

    out, n = detach(exchanges)
    assert n == 3
    assert out[0] == out[1] == out[2] != out[3]
    assert out[3] == out[4] == out[5]  # the family stays together, as a cluster of its own
    # one active member in the family keeps it with the operation: its card is evidence
    active = exchanges.copy()
    active[4] = 40
    assert detach(active) == ([0] * 6, 0)
    # a cluster with no active member is not taken apart: only units of one leave it
    quiet, _ = detach(np.ones(6, dtype=np.int64))
    assert quiet == [0] * 6


def _prompts(n_vertices: int, holders: dict[int, list[int]]) -> sparse.csr_matrix:
    """A vertices × prompts matrix: prompt ``p`` held by the vertices ``holders[p]``."""
    rows = [v for p in sorted(holders) for v in holders[p]]
    cols = [p for p in sorted(holders) for _ in holders[p]]
    return sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(n_vertices, max(holders) + 1)
    )


def _three_teams_among_strangers(n_strangers: int = 100) -> ig.Graph:
    """Three teams of ten chained by weak links; the first pass puts the last two (vertices
    10-29) in one cluster of 20, which the re-split finds to be two separated parts."""
    graph = _cliques([10, 10, 10], bridge=0.5)
    graph.add_vertices(n_strangers)  # people who send the same prompts, linked to no one
    return graph


ONE_GIANT = DetectParams(resolution=0.01, max_cluster_size=12, giant_size=12)


def test_teams_that_send_the_operations_own_prompts_stay_one_cluster() -> None:
    graph = _three_teams_among_strangers()
    prompts = _prompts(graph.vcount(), {0: list(range(10, 30))})
    result = detect_communities(graph, params=ONE_GIANT, seed=3, prompts=prompts)
    assert len({result.membership[v] for v in range(10, 30)}) == 1
    assert result.resplit[0]["kept_for_prompts"] == 2
    # without the prompts, or with the rule off, the separated teams leave
    off = dataclasses.replace(ONE_GIANT, keep_shared_prompts=0.0)
    for params, given_prompts in ((ONE_GIANT, None), (off, prompts)):
        split = detect_communities(graph, params=params, seed=3, prompts=given_prompts)
        assert len({split.membership[v] for v in range(10, 30)}) == 2


def test_a_prompt_many_strangers_send_keeps_no_team() -> None:
    graph = _three_teams_among_strangers()
    prompts = _prompts(graph.vcount(), {0: list(range(graph.vcount()))})  # a public prompt
    result = detect_communities(graph, params=ONE_GIANT, seed=3, prompts=prompts)
    assert len({result.membership[v] for v in range(10, 30)}) == 2


def test_a_team_with_a_distinct_prompt_of_its_own_is_another_operation() -> None:
    graph = _three_teams_among_strangers()
    prompts = _prompts(graph.vcount(), {0: list(range(10, 30)), 1: list(range(20, 30))})
    membership = detect_communities(graph, params=ONE_GIANT, seed=3, prompts=prompts).membership
    assert len({membership[v] for v in range(10, 20)}) == 1
    assert len({membership[v] for v in range(20, 30)}) == 1
    assert membership[10] != membership[20]
