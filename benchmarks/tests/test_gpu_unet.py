"""benchmarks/gpu_unet.py's tables and MFU arithmetic (the timings themselves need a GPU)."""

import argparse

from benchmarks import gpu_unet


def test_gpu_unet_tables_report_mfu_and_ratios(monkeypatch):
    args = argparse.Namespace(batch=128, sample_batch=256, nfe=20)
    train = [("diffjax", "bfloat16", 0.1), ("diffusers eager", "bfloat16", 0.25)]
    sample = [("diffjax", "bfloat16", 2.0), ("diffusers eager", "bfloat16", 3.0)]
    info = {"flops": 98.94e12 * 0.1, "params": 35.7e6, "torch_params": 35.75e6, "torch": "x"}
    monkeypatch.setattr(gpu_unet, "peak_tflops", lambda dtype: 989.4)  # as on an H100
    text = gpu_unet.tables(train, sample, info, args)
    # 9.894 TFLOP per step in 0.1 s on a 989.4 TFLOP/s device: 10% MFU; images/s = 128 / 0.1
    assert "| diffjax | bfloat16 | 100.0 | 1280 | 10.0% | 1.00x |" in text
    assert "| diffusers eager | bfloat16 | 250.0 | 512 | 4.0% | 2.50x |" in text
    assert "| diffusers eager | bfloat16 | 3.000 | 85 | 6.7 | 1.50x |" in text
    monkeypatch.setattr(gpu_unet, "peak_tflops", lambda dtype: None)  # unknown device kind
    assert "n/a (unknown peak)" in gpu_unet.tables(train, sample, info, args)


def test_peak_tflops_by_device_kind(monkeypatch):
    class Device:
        device_kind = "NVIDIA H100 80GB HBM3"

    monkeypatch.setattr(gpu_unet.jax, "devices", lambda: [Device()])
    assert gpu_unet.peak_tflops("bfloat16") == 989.4
    assert gpu_unet.peak_tflops("float32") == 494.7


def test_the_digits_unet_is_the_configs_and_a_cpu_has_a_measured_peak(monkeypatch):
    """--model digits benchmarks configs/ddpm_digits.py's network (0.70M parameters on 8x8x1);
    on a CPU the MFU is against a matmul throughput measured in the run."""
    import jax
    import jax.numpy as jnp

    from configs import ddpm_digits

    unet = ddpm_digits.get_config().network.unet
    options = gpu_unet.MODELS["digits"][1]
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()} == {
        k: unet[k] for k in options
    }
    model = gpu_unet.diffjax_unet("float32", "digits")
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)), jnp.zeros((1,)))
    assert 0.69e6 < sum(p.size for p in jax.tree.leaves(params)) < 0.71e6
    monkeypatch.setattr(gpu_unet, "_MEASURED", {})
    peak = gpu_unet.measured_peak_tflops(n=256)
    assert 1e-4 < peak < 100.0 and gpu_unet.peak_tflops("float32") == peak
