"""FID's Inception-v3: layout, weight conversion, loading errors, features, Frechet formula.

Agreement with pytorch-fid's network on the same weights (features to 1e-6, FID to 6e-7) needs
torch, so it is measured by benchmarks/peer_agreement.py (docs/benchmarks.md), not here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffjax.metrics import (
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
    inception_features,
    load_inception_fid,
)
from diffjax.networks.inception import InceptionV3FID, variables_from_torch_state_dict

# parameters of pytorch-fid's FID Inception-v3 up to pool 3 (no fc), counted in torch
PYTORCH_FID_POOL3_PARAMS = 21_785_568


def shapes():
    return jax.eval_shape(
        InceptionV3FID().init, jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 3), jnp.float32)
    )


def torch_style_state_dict(seed=0) -> dict:
    """A random state dict with pytorch-fid's names and torch layouts (OIHW kernels), built from
    the Flax layout: what the converter must invert. Includes the entries it must skip."""
    rng = np.random.default_rng(seed)
    state = {}
    for collection, torch_leaf in (
        ("params", {"kernel": "weight", "scale": "weight", "bias": "bias"}),
        ("batch_stats", {"mean": "running_mean", "var": "running_var"}),
    ):
        flat = jax.tree_util.tree_flatten_with_path(shapes()[collection])[0]
        for path, leaf in flat:
            names = [p.key for p in path]
            name = ".".join(names[:-1] + [torch_leaf[names[-1]]])
            shape = leaf.shape
            if names[-1] == "kernel":
                shape = (shape[3], shape[2], shape[0], shape[1])
            value = rng.normal(size=shape)
            state[name] = np.abs(value) + 0.5 if names[-1] == "var" else value
            if names[-1] == "var":
                state[name.replace("running_var", "num_batches_tracked")] = np.array(1)
    state["fc.weight"], state["fc.bias"] = rng.normal(size=(1008, 2048)), np.zeros(1008)
    return state


def test_parameter_count_matches_pytorch_fid():
    n = sum(x.size for x in jax.tree.leaves(shapes()["params"]))
    assert n == PYTORCH_FID_POOL3_PARAMS


def test_converter_transposes_kernels_and_skips_classifier():
    state = torch_style_state_dict()
    variables = variables_from_torch_state_dict(state)
    assert jax.tree.map(lambda x: x.shape, variables) == jax.tree.map(lambda x: x.shape, shapes())
    kernel = variables["params"]["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"]
    torch_kernel = state["Mixed_6b.branch7x7_2.conv.weight"]  # (O, I, 1, 7) -> (1, 7, I, O)
    np.testing.assert_array_equal(kernel, torch_kernel.transpose(2, 3, 1, 0).astype(np.float32))
    np.testing.assert_array_equal(
        variables["batch_stats"]["Conv2d_1a_3x3"]["bn"]["var"],
        state["Conv2d_1a_3x3.bn.running_var"].astype(np.float32),
    )


def test_converter_rejects_unknown_entries():
    state = torch_style_state_dict()
    state["Mixed_5b.branch1x1.conv.bias"] = np.zeros(64)
    with pytest.raises(ValueError, match="Mixed_5b.branch1x1.conv.bias"):
        variables_from_torch_state_dict(state)


def test_missing_weights_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05-6726825d.pth"):
        load_inception_fid(str(tmp_path / "absent.pth"))
    with pytest.raises(ValueError, match="inception_weights_path is empty"):
        load_inception_fid("")


def test_features_from_npz_weights(tmp_path):
    """Loads an .npz state dict; float32 features (N, 2048) that depend on the image; a grey image
    gives the features of its RGB copy."""
    path = tmp_path / "inception.npz"
    state = {k: v.astype(np.float32) for k, v in torch_style_state_dict().items()}
    for k in state:  # He-scaled kernels keep activations finite through 94 layers
        if k.endswith("conv.weight"):
            fan_in = np.prod(state[k].shape[1:])
            state[k] *= np.sqrt(2.0 / fan_in)
    np.savez(path, **state)
    variables = load_inception_fid(str(path))
    rng = np.random.default_rng(0)
    grey = rng.uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    feats = inception_features(variables, grey)
    assert feats.shape == (2, 2048) and np.all(np.isfinite(feats))
    assert np.max(np.abs(feats[0] - feats[1])) > 1e-3 * np.max(np.abs(feats))
    np.testing.assert_allclose(
        inception_features(variables, np.repeat(grey, 3, -1)),
        feats,
        rtol=1e-6,
        atol=1e-6 * np.max(np.abs(feats)),
    )


def test_rejects_wrong_image_shape():
    with pytest.raises(ValueError, match="images must be"):
        InceptionV3FID().init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 2), jnp.float32))


def test_frechet_distance_gaussian_closed_form():
    """Commuting (diagonal) covariances: d = ||mu_a - mu_b||^2 + sum (sqrt(a_i) - sqrt(b_i))^2."""
    rng = np.random.default_rng(0)
    mu_a, mu_b = rng.normal(size=5), rng.normal(size=5)
    var_a, var_b = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    exact = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    d = frechet_distance_from_statistics(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    np.testing.assert_allclose(d, exact, rtol=1e-10)
    # a rotation of both leaves the distance unchanged (non-diagonal covariances)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    d_rot = frechet_distance_from_statistics(
        q @ mu_a, q @ np.diag(var_a) @ q.T, q @ mu_b, q @ np.diag(var_b) @ q.T
    )
    np.testing.assert_allclose(d_rot, exact, rtol=1e-8)


def test_frechet_distance_with_fewer_samples_than_features_is_finite():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(10, 64)), rng.normal(size=(10, 64)) + 1.0
    d = frechet_distance(a, b)
    mu_a, cov_a = feature_statistics(a)
    assert np.isfinite(d) and d > 0.9 * 64  # the mean shift alone contributes 64
    np.testing.assert_allclose(frechet_distance(a, a), 0.0, atol=1e-6 * np.trace(cov_a))
    with pytest.raises(ValueError, match="features must be"):
        feature_statistics(a[:1])
