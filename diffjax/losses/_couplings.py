"""Minibatch couplings between data and source samples for conditional flow matching.

independent: the batch as drawn (I-CFM, Tong et al. 2024; Lipman et al. 2023).
exact_ot: the optimal assignment for the squared Euclidean cost (OT-CFM, Tong et al. 2024;
  Pooladian et al. 2023). Equal-size uniform batches make the plan a permutation; it is found
  on the host by POT's network simplex (`ot.emd`; measured here 5 / 38 / 106 ms at batch
  256 / 512 / 1024 against scipy's linear_sum_assignment at 12 / 101 / 607 ms) through
  `jax.pure_callback`, so it runs inside a jitted train step; `exact_ot_pairs_on_host` does the
  same in an input pipeline (for steps on several devices).
sinkhorn: pairs sampled from the entropic plan (SB-CFM uses epsilon = 2 sigma^2), on the device
  with ott-jax.
Couplings return index pairs, so labels and other conditioning stay paired with their data.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from diffjax._checks import Choice, check_instance, check_int, check_positive

Array = jax.Array


class OTSolver(Choice):
    """Exact assignment on the host: POT's network simplex (fastest here) or scipy's."""

    POT = "pot"
    SCIPY = "scipy"


def squared_distances(x: Array, y: Array) -> Array:
    """C_ij = ||x_i - y_j||^2 for x (n, ...) and y (m, ...); returns (n, m)."""
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    return jnp.sum(x**2, 1)[:, None] + jnp.sum(y**2, 1)[None, :] - 2.0 * x @ y.T


def _assignment_on_host(cost: np.ndarray, solver: OTSolver) -> np.ndarray:
    cost = np.asarray(cost, np.float64)
    if solver is OTSolver.SCIPY:
        from scipy.optimize import linear_sum_assignment

        return linear_sum_assignment(cost)[1].astype(np.int32)
    import ot

    n = cost.shape[0]
    uniform = np.full(n, 1.0 / n)
    plan = ot.emd(uniform, uniform, cost, numItermax=100 * n * n + 100_000)
    return np.argmax(plan, axis=1).astype(np.int32)


def exact_ot_assignment(x: Array, y: Array, solver: OTSolver = OTSolver.POT) -> Array:
    """perm (n,) minimising sum_i ||x_i - y_perm[i]||^2 over permutations; x, y of shape (n, ...).

    Jit-compatible (host callback). solver: OTSolver.POT (network simplex, fastest here) or
    OTSolver.SCIPY (linear_sum_assignment).
    """
    check_instance("solver", solver, OTSolver)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"exact_ot_assignment needs equal batch sizes; got {x.shape[0]} and {y.shape[0]}."
        )
    cost = jax.lax.stop_gradient(squared_distances(x, y))
    out = jax.ShapeDtypeStruct((x.shape[0],), jnp.int32)
    return jax.pure_callback(
        lambda c: _assignment_on_host(c, solver), out, cost, vmap_method="sequential"
    )


def exact_ot_pairs_on_host(
    x_data: np.ndarray, x_source: np.ndarray, solver: OTSolver = OTSolver.POT
) -> np.ndarray:
    """x_source reordered so that (x_data[i], x_source[i]) is the exact OT pairing (numpy).

    The same coupling as `exact_ot_assignment`, done in the input pipeline instead of the train
    step: the 'icfm' loss on these pairs is OT-CFM. Use it when the step runs on several devices:
    a host callback inside a multi-device jitted step deadlocked on XLA:CPU (jax 0.10.2).
    """
    check_instance("solver", solver, OTSolver)
    x = np.asarray(x_data, np.float64).reshape(len(x_data), -1)
    y = np.asarray(x_source, np.float64).reshape(len(x_source), -1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"need equal batch sizes; got {x.shape[0]} and {y.shape[0]}.")
    cost = np.sum(x**2, 1)[:, None] + np.sum(y**2, 1)[None, :] - 2.0 * x @ y.T
    return np.asarray(x_source)[_assignment_on_host(cost, solver)]


def sinkhorn_plan(
    x: Array, y: Array, epsilon: float, *, threshold: float = 1e-3, max_iterations: int = 2000
) -> Array:
    """Entropic OT plan between uniform x (n, ...) and y (m, ...) for the squared Euclidean cost.

    Solves min <P, C> - epsilon H(P) with absolute epsilon (ott-jax Sinkhorn, log domain).
    Returns P of shape (n, m), summing to 1.
    """
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    check_positive("epsilon", epsilon)
    solver = sinkhorn.Sinkhorn(threshold=threshold, max_iterations=max_iterations)
    with jax.numpy_dtype_promotion("standard"):  # ott-jax mixes int and float internally
        geom = pointcloud.PointCloud(
            x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1), epsilon=epsilon
        )
        return solver(linear_problem.LinearProblem(geom)).matrix


def _inverse_cdf(weights: Array, u: Array) -> Array:
    """Index k with cumsum[k - 1] <= u < cumsum[k] for u in [0, total), per row of `weights`
    (m,) or (num, m) and entry of u (num,); clipped to m - 1 against round-off. A binary search:
    comparing u against every cumsum entry lets XLA fuse u's random draw into that (num, m)
    comparison and recompute it m times (0.3 ms at 512 x 512 on this CPU)."""
    search = lambda w, x: jnp.searchsorted(jnp.cumsum(w), x, side="right")
    k = jax.vmap(search)(weights, u) if weights.ndim == 2 else search(weights, u)
    return jnp.minimum(k, weights.shape[-1] - 1)


def sample_plan(key: Array, plan: Array, num: int) -> tuple[Array, Array]:
    """Draws `num` index pairs (i, j) with probability plan[i, j] (with replacement).

    Inverse CDF in three stages: row i from the row sums, then a block of ~sqrt(m) columns of row
    i from its block sums, then the column inside that block; O(n m + num sqrt(m)) work. (Gumbel
    -max over the flattened n x n plan, `jax.random.categorical`, draws num n^2 variates: 6.9 s
    at n = 512 on this CPU against a 3 ms Sinkhorn solve at epsilon 2; an inverse CDF over the
    full num x m sampled rows took ~0.7 ms, these stages ~0.3 ms: `python -m
    benchmarks.coupling_cost`, last column.)
    """
    n, m = plan.shape
    plan = jnp.maximum(plan, 0.0)
    size = 1 << int(np.ceil(np.log2(m) / 2))  # a power of 2 >= sqrt(m): 32 columns at m = 512
    blocks = jnp.pad(plan, ((0, 0), (0, -m % size))).reshape(n, -1, size)  # (n, nb, size)
    block_sums = jnp.sum(blocks, axis=-1)  # (n, nb)
    row_sums = jnp.sum(block_sums, axis=-1)
    key_i, key_j = jax.random.split(key)
    i = _inverse_cdf(row_sums, jax.random.uniform(key_i, (num,), plan.dtype) * jnp.sum(row_sums))
    sums_i = block_sums[i]  # (num, nb)
    v = jax.random.uniform(key_j, (num,), plan.dtype) * jnp.sum(sums_i, axis=-1)
    b = _inverse_cdf(sums_i, v)
    before = jnp.sum(
        jnp.where(jnp.arange(sums_i.shape[1], dtype=b.dtype) < b[:, None], sums_i, 0.0), axis=-1
    )
    inside = _inverse_cdf(blocks[i, b], v - before)
    return i, jnp.minimum(b * size + inside, m - 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Coupling:
    """Pairs a batch of data with a batch of source points: (key, x_data, x_source) ->
    (data_idx, source_idx), each of shape (batch,), so labels stay paired with their data."""

    def __call__(self, key: Array, x_data: Array, x_source: Array) -> tuple[Array, Array]:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, kw_only=True)
class Independent(Coupling):
    """The batch as drawn (I-CFM, Tong et al. 2024; Lipman et al. 2023)."""

    def __call__(self, key, x_data, x_source):
        n = x_data.shape[0]
        return jnp.arange(n), jnp.arange(n)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExactOT(Coupling):
    """The optimal assignment for the squared Euclidean cost (OT-CFM), found on the host."""

    solver: OTSolver = OTSolver.POT

    def __post_init__(self):
        check_instance("solver", self.solver, OTSolver)

    def __call__(self, key, x_data, x_source):
        return jnp.arange(x_data.shape[0]), exact_ot_assignment(x_data, x_source, self.solver)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sinkhorn(Coupling):
    """Pairs drawn from the entropic plan (absolute epsilon on squared distances; SB-CFM uses
    epsilon = 2 sigma^2), solved on the device by ott-jax."""

    epsilon: float
    threshold: float = 1e-3
    max_iterations: int = 2000

    def __post_init__(self):
        check_positive("epsilon", self.epsilon)
        check_positive("threshold", self.threshold)
        check_int("max_iterations", self.max_iterations, minimum=1)

    def __call__(self, key, x_data, x_source):
        plan = sinkhorn_plan(
            x_data,
            x_source,
            self.epsilon,
            threshold=self.threshold,
            max_iterations=self.max_iterations,
        )
        return sample_plan(key, plan, x_data.shape[0])
