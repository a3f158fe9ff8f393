"""The band-constrained region strategy: connectivity, band, determinism, exact k, islands, heavy atoms."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from gridmap.errors import InfeasiblePartitionError
from gridmap.partition.problem import Band, PartitionProblem
from gridmap.partition.regions.strategy import region_result_from_problem, regions_from_problem
from gridmap.partition.regions.synthetic import ARTERIAL_WEIGHT, lattice_community

BAND = Band(300, 500, 400)


def regions_are_connected(labels: np.ndarray, edges: np.ndarray) -> bool:
    graph = nx.Graph()
    graph.add_nodes_from(range(len(labels)))
    graph.add_edges_from((int(a), int(b)) for a, b in edges if labels[a] == labels[b])
    return all(len({labels[i] for i in comp}) == 1 for comp in nx.connected_components(graph)) and len(
        list(nx.connected_components(graph))
    ) == len(np.unique(labels))


def sums_of(labels: np.ndarray, households: np.ndarray) -> np.ndarray:
    return np.bincount(labels, weights=households).astype(int)


def chain_problem(households: list[int], *, band: Band = BAND, n_grids: int | None = None, extra_edges=()):
    """Atoms on a line (atom i touches i + 1), 100 m apart, plus optional extra edges."""
    n = len(households)
    pairs = [(i, i + 1) for i in range(n - 1)] + list(extra_edges)
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return PartitionProblem(
        households=np.array(households, dtype=np.int64),
        xy_m=np.stack([np.arange(n) * 100.0, np.zeros(n)], axis=1),
        area_m2=np.full(n, 10_000.0),
        edges=edges,
        edge_length_m=np.full(len(edges), 100.0),
        edge_cut_weight=np.ones(len(edges)),
        band=band,
        n_grids=n_grids,
    )


def merged(a: PartitionProblem, b: PartitionProblem, *, n_grids: int | None = None) -> PartitionProblem:
    """Two problems side by side with no edge between them: two islands."""
    return PartitionProblem(
        households=np.concatenate([a.households, b.households]),
        xy_m=np.concatenate([a.xy_m, b.xy_m + np.array([0.0, 5000.0])]),
        area_m2=np.concatenate([a.area_m2, b.area_m2]),
        edges=np.concatenate([a.edges, b.edges + a.n]),
        edge_length_m=np.concatenate([a.edge_length_m, b.edge_length_m]),
        edge_cut_weight=np.concatenate([a.edge_cut_weight, b.edge_cut_weight]),
        band=a.band,
        n_grids=n_grids,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lattice_regions_are_connected_and_in_band(seed):
    community = lattice_community(20, 15, rng=np.random.default_rng(seed), band=BAND)
    problem = community.problem
    result = region_result_from_problem(problem, rng=np.random.default_rng(seed))
    labels = result.labels
    assert labels.shape == (problem.n,) and labels.dtype == np.int64
    k = labels.max() + 1
    assert set(np.unique(labels)) == set(range(k))
    assert regions_are_connected(labels, problem.edges)
    sums = sums_of(labels, problem.households)
    assert sums.sum() == problem.total_households
    assert ((sums >= BAND.min) & (sums <= BAND.max)).all(), sums[(sums < BAND.min) | (sums > BAND.max)]
    d = result.diagnostics
    assert d.ok and d.share_in_band == 1.0 and d.n_regions == k
    assert d.max_deviation == np.abs(sums - BAND.target).max()
    # k is chosen from the households: round(total / target) when that fits the band.
    assert k == round(problem.total_households / BAND.target)


def test_same_seed_same_labels_different_seed_different_labels():
    problem = lattice_community(15, 12, rng=np.random.default_rng(5), band=BAND).problem
    first = regions_from_problem(problem, rng=np.random.default_rng(11))
    again = regions_from_problem(problem, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(first, again)
    others = [regions_from_problem(problem, rng=np.random.default_rng(s)) for s in (12, 13)]
    assert any(not np.array_equal(first, other) for other in others)


def test_cuts_prefer_big_roads():
    """Arterials (cut weight 0.25) should carry a larger share of grid edges than of all streets."""
    problem = lattice_community(24, 18, rng=np.random.default_rng(3), band=BAND).problem
    labels = regions_from_problem(problem, rng=np.random.default_rng(3))
    arterial = problem.edge_cut_weight == ARTERIAL_WEIGHT
    cut = labels[problem.edges[:, 0]] != labels[problem.edges[:, 1]]
    share_all = arterial.mean()
    share_cut = arterial[cut].mean()
    assert share_cut > 1.5 * share_all, (share_cut, share_all)


@pytest.mark.parametrize("n_grids", [9, 11, 13])
def test_exact_number_of_grids(n_grids):
    band = Band(200, 1000, 500)
    problem = lattice_community(12, 10, rng=np.random.default_rng(1), band=band, n_grids=n_grids).problem
    result = region_result_from_problem(problem, rng=np.random.default_rng(2))
    assert result.labels.max() + 1 == n_grids == result.diagnostics.n_regions
    assert regions_are_connected(result.labels, problem.edges)
    sums = sums_of(result.labels, problem.households)
    # Total ~8,400 households: 9..13 grids of 200..1000 are all feasible, and balanced around total/k.
    assert result.diagnostics.ok, result.diagnostics.messages()
    assert np.abs(sums - problem.total_households / n_grids).max() < 0.35 * problem.total_households / n_grids


def test_infeasible_exact_k_keeps_k_and_reports():
    households = [100] * 20  # 2,000 households
    result = region_result_from_problem(chain_problem(households, n_grids=2), rng=np.random.default_rng(0))
    assert result.labels.max() + 1 == 2
    sums = sums_of(result.labels, np.array(households))
    assert sorted(sums) == [1000, 1000]  # the most balanced split of a chain of equal atoms
    d = result.diagnostics
    assert "2 grids were requested" in d.infeasible and "allows 4..6 grids" in d.infeasible
    assert sorted(h for _, h in d.out_of_band) == [1000, 1000] and not d.ok


@pytest.mark.parametrize("n_grids", [1, 31])
def test_impossible_exact_k_raises(n_grids):
    island_a = chain_problem([100] * 10)
    island_b = chain_problem([100] * 20)
    with pytest.raises(InfeasiblePartitionError) as info:
        region_result_from_problem(merged(island_a, island_b, n_grids=n_grids), rng=np.random.default_rng(0))
    assert info.value.details["islands"] == 2 and info.value.details["atoms"] == 30


def test_islands_are_partitioned_separately_and_small_islands_reported():
    big = lattice_community(8, 6, rng=np.random.default_rng(4), band=BAND).problem
    small = chain_problem([60, 70, 50])  # 180 households < 300
    problem = merged(big, small)
    result = region_result_from_problem(problem, rng=np.random.default_rng(4))
    labels = result.labels
    big_labels, small_labels = set(labels[: big.n]), set(labels[big.n :])
    assert big_labels.isdisjoint(small_labels)
    assert len(small_labels) == 1
    assert regions_are_connected(labels, problem.edges)
    d = result.diagnostics
    assert d.small_components == (1,)
    assert [c.households for c in d.components] == [big.total_households, 180]
    assert d.components[1].regions == 1 and "under the band minimum" in d.components[1].note
    assert d.out_of_band == ((int(labels[big.n]), 180),)
    sums = sums_of(labels, problem.households)
    assert all(BAND.contains(sums[r]) for r in big_labels)


def test_heavy_atom_is_left_alone_and_splits_its_component():
    # A chain 0..13 with atom 7 heavier than band.max: it becomes its own region and the chain
    # falls apart into two islands (0..6 and 8..13), each partitioned on its own.
    households = [100] * 7 + [900] + [100] * 6
    problem = chain_problem(households)
    result = region_result_from_problem(problem, rng=np.random.default_rng(0))
    labels = result.labels
    d = result.diagnostics
    assert d.heavy_atoms == (7,)
    assert (labels == labels[7]).sum() == 1
    assert len(d.components) == 2 and [c.atoms for c in d.components] == [7, 6]
    assert regions_are_connected(labels, problem.edges)
    sums = sums_of(labels, np.array(households))
    assert sorted(sums) == [300, 300, 300, 400, 900]  # 700 -> 300 + 400, 600 -> 300 + 300
    assert d.out_of_band == ((int(labels[7]), 900),)
    assert any("atom 7" in m for m in d.messages())


def test_component_that_cannot_fit_the_band_is_reported():
    # 520 households: one grid is over 500, two grids are under 300 each.
    result = region_result_from_problem(chain_problem([130] * 4), rng=np.random.default_rng(0))
    d = result.diagnostics
    assert d.n_regions == 1 and d.out_of_band == ((0, 520),)
    assert "cannot be divided into grids of 300..500" in d.infeasible
    assert d.components[0].k_min == 2 and d.components[0].k_max == 1


def test_duplicate_edges_self_loops_and_empty_problem():
    problem = chain_problem([150] * 8, extra_edges=[(0, 1), (3, 3), (2, 1)])
    labels = regions_from_problem(problem, rng=np.random.default_rng(0))
    assert sorted(sums_of(labels, problem.households)) == [300, 450, 450]  # k = round(1200 / 400) = 3
    assert regions_are_connected(labels, problem.edges)
    empty = chain_problem([])
    assert regions_from_problem(empty, rng=np.random.default_rng(0)).shape == (0,)


def test_local_search_balances_a_chain():
    # 12 atoms of 100: the only perfectly balanced partition into 3 is 4+4+4 consecutive atoms.
    households = [100] * 12
    labels = regions_from_problem(chain_problem(households), rng=np.random.default_rng(9))
    assert sorted(sums_of(labels, np.array(households))) == [400, 400, 400]
    assert (np.diff(labels) != 0).sum() == 2  # consecutive runs


def chain_min_violation(households: list[int], band: Band) -> float:
    """Brute force over every way to cut a chain into consecutive runs: the least households outside the band."""
    n = len(households)
    best = float("inf")
    for mask in range(1 << (n - 1)):
        sums, run = [], households[0]
        for i in range(1, n):
            if mask >> (i - 1) & 1:
                sums.append(run)
                run = 0
            run += households[i]
        sums.append(run)
        best = min(best, sum(max(0, band.min - s) + max(0, s - band.max) for s in sums))
    return best


def set_partitions(items: list[int]):
    """Every partition of ``items`` into non-empty blocks (Bell(n) of them)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]


def brute_min_violation(households: list[int], edges: list[tuple[int, int]], band: Band) -> float:
    """The least households outside the band over every partition into connected parts."""
    graph = nx.Graph()
    graph.add_nodes_from(range(len(households)))
    graph.add_edges_from(edges)
    best = float("inf")
    for part in set_partitions(list(range(len(households)))):
        if all(nx.is_connected(graph.subgraph(block)) for block in part):
            sums = [sum(households[i] for i in block) for block in part]
            best = min(best, sum(max(0, band.min - s) + max(0, s - band.max) for s in sums))
    return best


def random_graph_problem(seed: int, n: int = 8) -> PartitionProblem:
    """A random connected graph: a random spanning path plus a few chords; households 0..420."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    pairs = {tuple(sorted((int(order[i]), int(order[i + 1])))) for i in range(n - 1)}
    for _ in range(3):
        a, b = rng.choice(n, size=2, replace=False)
        pairs.add(tuple(sorted((int(a), int(b)))))
    households = rng.integers(0, 420, size=n).tolist()
    households[int(rng.integers(n))] = 0  # a zero-household connector
    return PartitionProblem(
        households=np.array(households, dtype=np.int64),
        xy_m=rng.random((n, 2)) * 1000.0,
        area_m2=np.full(n, 10_000.0),
        edges=np.array(sorted(pairs), dtype=np.int64),
        edge_length_m=np.full(len(pairs), 100.0),
        edge_cut_weight=np.ones(len(pairs)),
        band=BAND,
    )


@pytest.mark.parametrize("seed", range(6))
def test_exact_model_matches_brute_force(seed):
    """The exact model's minimum equals brute force over all connected partitions; with an upper
    bound it either beats the bound or proves that the bound is the minimum."""
    from gridmap.partition.regions.exact import ExactParams, exact_regions
    from gridmap.partition.regions.graph import graph_from_problem

    problem = random_graph_problem(seed)
    households, edges = problem.households.tolist(), [tuple(e) for e in problem.edges.tolist()]
    truth = brute_min_violation(households, edges, BAND)
    graph, nodes = graph_from_problem(problem), np.arange(problem.n)
    found = exact_regions(graph, nodes, problem.households, BAND, k_range=(1, problem.n), params=ExactParams())
    assert found.proven and found.status == "optimal" and found.labels is not None
    assert found.violation == truth
    assert regions_are_connected(found.labels, problem.edges)
    sums = sums_of(found.labels, problem.households)
    assert sum(max(0, BAND.min - s) + max(0, s - BAND.max) for s in sums) == truth
    bounded = exact_regions(graph, nodes, problem.households, BAND, k_range=(1, problem.n), params=ExactParams(),
                            upper_bound=truth + 1)  # fmt: skip
    assert bounded.proven and bounded.violation == truth
    at_bound = exact_regions(graph, nodes, problem.households, BAND, k_range=(1, problem.n), params=ExactParams(),
                             upper_bound=truth)  # fmt: skip
    assert at_bound.proven and at_bound.labels is None and at_bound.violation == truth


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_exact_model_matches_brute_force_on_chains(seed):
    from gridmap.partition.regions.exact import ExactParams, exact_regions
    from gridmap.partition.regions.graph import graph_from_problem

    households = np.random.default_rng(seed).integers(60, 420, size=8).tolist()
    problem = chain_problem(households)
    found = exact_regions(graph_from_problem(problem), np.arange(8), problem.households, BAND,
                          k_range=(1, 8), params=ExactParams())  # fmt: skip
    assert found.proven and found.labels is not None
    assert found.violation == chain_min_violation(households, BAND)
    assert regions_are_connected(found.labels, problem.edges)


def test_exact_fallback_proves_the_band_unreachable_and_never_does_worse():
    from gridmap.partition.regions.strategy import RegionParams

    households = [130, 130, 130, 130, 40, 450, 45, 300]
    problem = chain_problem(households)
    plain = region_result_from_problem(problem, rng=np.random.default_rng(0), params=RegionParams(exact=None))
    exact = region_result_from_problem(problem, rng=np.random.default_rng(0))  # the fallback is on by default
    violation = {id(r): sum(max(0, BAND.min - h) + max(0, h - BAND.max) for _, h in r.diagnostics.out_of_band)
                 for r in (plain, exact)}  # fmt: skip
    assert violation[id(exact)] <= violation[id(plain)]
    assert violation[id(exact)] == chain_min_violation(households, BAND) > 0
    d = exact.diagnostics
    assert len(d.exact) == 1 and d.exact[0].proven
    assert d.components[0].status == "proved_infeasible" and d.islands_proved_infeasible == 1
    for label, _ in d.out_of_band:
        assert d.region_notes[label].startswith("proved infeasible: no grouping of the 8 atoms")
        assert f"at best {violation[id(exact)]:g} households fall outside" in d.region_notes[label]
    p = plain.diagnostics
    assert p.components[0].status == "heuristic" and p.islands_proved_infeasible == 0
    assert all(p.region_notes[label].startswith("heuristic:") for label, _ in p.out_of_band)
    assert any("exact model is switched off" in m for m in p.messages())
