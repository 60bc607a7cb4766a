"""The PyTorch peers, set up once for every peer benchmark (needs benchmarks/requirements-peers.txt).

- `mlp_pair`: the same 3 x 64 SELU MLP on (x, t) as a Flax module and as a torch module, with the
  torch weights copied from the Flax parameters.
- `k_diffusion_sampling()`: k-diffusion's sampling module loaded on its own (the package import
  needs torchvision, which has no working CPU build here; sampling only uses its small utils helpers).
- `pytorch_fid_inception(seed)`: pytorch-fid's FID Inception-v3 with random weights (nothing can be
  downloaded here) and its state dict, to check diffjax's port layer by layer.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np

from diffjax.networks import MLP


def mlp_pair(dim: int, width: int = 64, depth: int = 3, seed: int = 0):
    """(flax MLP, its params, an equal torch module) for inputs x (batch, dim), t (batch,)."""
    import torch

    model = MLP(width=width, depth=depth)
    params = model.init(
        jax.random.PRNGKey(seed), jnp.zeros((1, dim), jnp.float32), jnp.zeros((1,), jnp.float32)
    )

    class TorchMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            sizes = [dim + 1] + [width] * depth + [dim]
            self.layers = torch.nn.ModuleList(
                torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            )

        def forward(self, x, t):
            h = torch.cat([x, t.reshape(-1, 1).to(x.dtype).expand(x.shape[0], 1)], dim=-1)
            for layer in self.layers[:-1]:
                h = torch.nn.functional.selu(layer(h))
            return self.layers[-1](h)

    net = TorchMLP()
    dense = [params["params"][f"Dense_{i}"] for i in range(depth + 1)]
    with torch.no_grad():
        for layer, p in zip(net.layers, dense, strict=True):
            layer.weight.copy_(torch.from_numpy(np.asarray(p["kernel"]).T.copy()))
            layer.bias.copy_(torch.from_numpy(np.asarray(p["bias"]).copy()))
    return model, params, net.eval()


def k_diffusion_sampling():
    """Imports k_diffusion/sampling.py without k_diffusion/__init__.py."""
    if "k_diffusion.sampling" in sys.modules:
        return sys.modules["k_diffusion.sampling"]
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None:
        raise ImportError("k-diffusion is not installed: see benchmarks/requirements-peers.txt.")
    root = spec.submodule_search_locations[0]
    package = types.ModuleType("k_diffusion")
    package.__path__ = [root]
    sys.modules["k_diffusion"] = package
    # utils imports torchvision for image helpers only; the wheel that pip resolves next to the CPU
    # torch fails to import ("torchvision::nms does not exist"): stand-ins while utils loads
    stand_ins = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    saved = {name: sys.modules.pop(name, None) for name in stand_ins}
    for name in stand_ins:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["torchvision.transforms"].functional = sys.modules[stand_ins[2]]
    try:
        for sub in ("utils", "sampling"):
            s = importlib.util.spec_from_file_location(f"k_diffusion.{sub}", f"{root}/{sub}.py")
            module = importlib.util.module_from_spec(s)
            sys.modules[f"k_diffusion.{sub}"] = module
            s.loader.exec_module(module)
            setattr(package, sub, module)
    finally:  # others (diffusers) look torchvision up later: leave no stand-in behind
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return sys.modules["k_diffusion.sampling"]


def import_torchvision():
    """torchvision's Python modules without its C++ ops: the wheel pip resolves next to the CPU
    torch has no loadable `_C` ("torchvision::nms does not exist" when it registers fake kernels);
    the models (pure torch) import once those registrations are skipped."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    import torch.library

    register_fake = torch.library.register_fake

    def tolerant(op, *args, **kwargs):
        def decorate(fn):
            try:
                return register_fake(op, *args, **kwargs)(fn)
            except RuntimeError:  # the op was never defined: no C++ extension
                return fn

        return decorate

    torch.library.register_fake = tolerant
    try:
        import torchvision
    finally:
        torch.library.register_fake = register_fake
    return torchvision


def pytorch_fid_inception(seed: int = 0):
    """(pytorch-fid's FID InceptionV3 up to pool 3, eval mode, fed [-1, 1] images; the state dict
    it was given, as numpy, under the names of pt_inception-2015-12-05.pth). The weights are random
    (nothing can be downloaded here): torch's default conv init, random BatchNorm affine parameters,
    running statistics measured on random images."""
    import torch

    import_torchvision()
    import pytorch_fid.inception as pfi

    torch.manual_seed(seed)
    # the FID blocks subclass torchvision's, so this model has the FID state dict's names and shapes
    layout = pfi.torchvision.models.inception_v3(
        num_classes=1008, aux_logits=False, weights=None, init_weights=False
    )
    # random affine BatchNorm parameters; running statistics measured on random images, so that
    # every layer sees normalised inputs and the features depend on the image (with arbitrary
    # statistics the signal dies out within a few layers and every image gives the same features)
    with torch.no_grad():
        for module in layout.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.momentum = None  # cumulative average over the calibration batch
                module.reset_running_stats()
        layout.train()
        layout(2 * torch.rand(8, 3, 299, 299) - 1)
    state = {k: v.clone() for k, v in layout.state_dict().items()}
    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda url, progress=True: state  # instead of the download
    try:
        model = pfi.InceptionV3([3], resize_input=True, normalize_input=False).eval()
    finally:
        pfi.load_state_dict_from_url = original
    return model, {k: v.numpy() for k, v in state.items()}


def emit(text: str, out: str = "") -> None:
    """Prints a benchmark's table and, with --out, writes it there."""
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)
