"""The sampler-accuracy table: its reference is the exact answer, its ranking judges correctly."""

import numpy as np

from benchmarks import sampler_accuracy as SA_BENCH


def _row(problem, method, grid, nfe, error):
    return dict(problem=problem, method=method, grid=grid, nfe_budget=nfe, nfe=nfe, error=error)


def test_ranking_divides_by_the_best_peer_of_each_problem_and_budget():
    peer, ours = "dpmpp_2m", "unipc_3"
    rows = []
    for p, scale in (("a/edm", 1.0), ("b/edm", 100.0)):
        for nfe in (10, 20):
            rows.append(_row(p, peer, "karras", nfe, scale * 1e-2 / nfe))
            rows.append(_row(p, peer, "logsnr", nfe, scale * 2e-2 / nfe))
            rows.append(_row(p, ours, "quadratic", nfe, scale * 0.25e-2 / nfe))
    rank = SA_BENCH.ranking(rows)
    assert rank[0][:2] == (ours, "quadratic")
    np.testing.assert_allclose(rank[0][2:], [0.25, 0.25])  # every problem scaled alike
    assert rank[1][:2] == (peer, "karras") and np.isclose(rank[1][2], 1.0)
    text = SA_BENCH.tables(rows, "cmd", "rev", 1.0)
    assert "| 1 | unipc_3 | quadratic | 0.250 | 0.250 |  |" in text
    assert "| 2 | dpmpp_2m | karras | 1.000 | 1.000 | ddpm, edm, rf |" in text


def test_the_reference_is_the_exact_flow_and_the_tiny_run_writes_its_table(tmp_path):
    """On a single Gaussian the PF-ODE map is closed form: the reference matches it."""
    import jax
    import jax.numpy as jnp

    from diffjax import analytic
    from diffjax import schedules as S

    mean, cov = jnp.array([0.5, -1.0]), jnp.array([[1.0, 0.3], [0.3, 0.5]])
    gauss = analytic.GaussianMixture(jnp.array([1.0]), mean[None], cov[None])
    edm = S.EDM()
    x_T = 80.0 * jax.random.normal(jax.random.PRNGKey(0), (16, 2), jnp.float64)
    ref = SA_BENCH.reference(gauss, edm, x_T)
    exact = analytic.gaussian_pf_ode_map(mean, cov, x_T, edm(1.0), edm(0.0))
    np.testing.assert_allclose(ref, exact, atol=1e-6)
    out = tmp_path / "acc.md"
    SA_BENCH.main(["--tiny", "--out", str(out)])
    text = out.read_text()
    assert "python -m benchmarks.sampler_accuracy --tiny" in text
    assert "| 1 |" in text and (tmp_path / "acc.json").exists()


def test_the_config_defaults_are_the_measured_best_cells():
    """configs/common.py's sampler and 'auto' grid are the first cells of the committed table for
    each schedule: a new measurement that ranks another cell first fails here."""
    import json
    import pathlib

    from configs import common
    from diffjax import resolve
    from diffjax import samplers as SA

    root = pathlib.Path(__file__).resolve().parents[2]
    rows = json.loads((root / "docs" / "sampler_accuracy.json").read_text())
    config = common.base()
    default = resolve.sampler(config.sample.sampler)
    assert resolve.grid(config.sample.grid) == SA.RecommendedGrid()
    for name, schedule in SA_BENCH.SCHEDULES.items():
        sub = [r for r in rows if r["problem"].endswith("/" + name)]
        method, grid = SA_BENCH.ranking(sub)[0][:2]
        assert SA_BENCH.METHODS[method][0] == default, (name, method)
        assert SA_BENCH.GRIDS[grid] == SA.recommended_grid(schedule), (name, grid)
