"""Networks (Flax Linen, pure init/apply): params are plain pytrees.

Every network is called as module.apply(params, x, t, cond) -> output of x's shape, the signature
`diffjax.Denoiser` expects (wrap with `lambda p, x, t, c: model.apply(p, x, t, c)`).
"""

from diffjax.networks.classifier import NoisyClassifier
from diffjax.networks.dit import DiT, dit_s2, dit_tiny, sincos_2d
from diffjax.networks.embeddings import RandomFourierEmbedding, sinusoidal_embedding
from diffjax.networks.mlp import MLP
from diffjax.networks.unet import UNet, ddpm_cifar10, ddpm_digits

__all__ = [
    "MLP",
    "NoisyClassifier",
    "DiT",
    "RandomFourierEmbedding",
    "UNet",
    "ddpm_cifar10",
    "ddpm_digits",
    "dit_s2",
    "dit_tiny",
    "sincos_2d",
    "sinusoidal_embedding",
]
