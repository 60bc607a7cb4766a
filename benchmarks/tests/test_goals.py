"""The benchmark report's goals table reads the right rows and judges them correctly."""

from benchmarks.goals import goals_table


def _inputs(sampling_speedup_10k: float):
    n = 20
    # (label, batch, NFE, ours s, diffusers s, k-diffusion s, compile s); NFE 10 rows are ignored
    rows = [
        ("Euler", 10_000, 10, 1.0, 0.1, 0.1, 0.2),
        ("Euler", 10_000, n, 0.02, 0.02 * sampling_speedup_10k, 0.6, 0.2),
        ("Euler", 1000, n, 0.004, 0.008, 0.02, 0.2),
    ]
    evals = [
        (10_000, 8e-4, 1.9e-3, 4e-4, {"matmuls": 4.5e-4, "none": 5.5e-4}),
        (1000, 2e-4, 2e-4, 4e-5, {}),
    ]
    training = (
        [
            ("I-CFM", "independent", 3.5e-4, 8.6e-4),
            ("I-CFM, 20 steps per call", "independent", 2.8e-4, 8.6e-4),
            ("OT-CFM", "exact (POT emd)", 18e-3, 19e-3),
            ("OT-CFM", "Sinkhorn eps=2.0 (diffjax) vs exact (torchcfm)", 4e-3, 19e-3),
        ],
        3.2e-4,
        3.5e-4,
    )
    overhead = (8e-4, [("euler", [1.1, 1.04, 1.03], 8e-6), ("ddpm", [1.2, 1.19, 1.18], 9e-5)])
    return (rows, evals, 4e11), training, overhead


def test_goals_table_reads_the_rows_and_judges_them():
    table = goals_table(*_inputs(3.5))
    lines = table.splitlines()
    assert lines[2].startswith("| sampling >= 4.0x diffusers and k-diffusion at batch 10k")
    assert "| 3.5x diffusers, 30.0x k-diffusion | missed |" in lines[2]
    assert "| 2.0x diffusers, 5.0x k-diffusion | met |" in lines[3]
    assert "| 2.00x (0.800 / 0.400 ms) | missed |" in lines[4]
    assert "2.5x (I-CFM), 3.1x (I-CFM, 20 steps per call) | met |" in lines[5]
    assert "| 1.1x (18.00 / 19.00 ms) | met |" in lines[6]
    assert "| 4.8x (4.00 / 19.00 ms) | missed |" in lines[7]
    assert "| 1 of 2 methods; deterministic 1.040, stochastic 1.190 | missed |" in lines[8]
    assert "deterministic 8 us, stochastic 90 us" in lines[8]
    assert (
        "| 4.0x diffusers, 30.0x k-diffusion | met |" in goals_table(*_inputs(4.0)).splitlines()[2]
    )
