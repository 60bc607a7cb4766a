"""diffjax: diffusion models and flow matching in JAX."""
