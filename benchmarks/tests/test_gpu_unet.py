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
    assert "| diffusers eager | bfloat16 | 3.000 | 85 | 1.50x |" in text
    monkeypatch.setattr(gpu_unet, "peak_tflops", lambda dtype: None)  # unknown device kind
    assert "n/a (unknown peak)" in gpu_unet.tables(train, sample, info, args)


def test_peak_tflops_by_device_kind(monkeypatch):
    class Device:
        device_kind = "NVIDIA H100 80GB HBM3"

    monkeypatch.setattr(gpu_unet.jax, "devices", lambda: [Device()])
    assert gpu_unet.peak_tflops("bfloat16") == 989.4
    assert gpu_unet.peak_tflops("float32") == 494.7
