"""What produced a result: git revision, config hash, versions, device, wall time."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


OUTPUTS = ("docs", "README.md")  # what results are written to: their edits change no number


def git_revision(repo: str = REPO) -> str:
    """The checkout's HEAD (short hash), with '-dirty' when files outside OUTPUTS differ from it
    (a table regenerated in docs/ leaves the next one clean); 'unknown' outside a git checkout."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", repo, *args], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short=7", "HEAD")
        outputs = [f":(exclude){path}" for path in OUTPUTS]
        dirty = git("status", "--porcelain", "--", ".", *outputs)  # untracked source counts
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


@functools.cache
def code_revision() -> str:
    """git_revision() when this process first asked: the code it imported. A study process
    runs many jobs while the checkout may move (commits, edits); each row names this revision,
    not the checkout's HEAD when its job began."""
    return git_revision()


def config_hash(config) -> str:
    """sha256 of the config's canonical JSON (sorted keys, cosmetic keys left out), 12 hex digits."""
    from experiments.workdir import COSMETIC, config_dict, flatten

    flat = {k: v for k, v in flatten(config_dict(config)).items() if k not in COSMETIC}
    text = json.dumps(flat, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# the packages whose numerics reach a result (a new release can move a float32 result by an ulp)
NUMERIC_PACKAGES = (
    "jax",
    "jaxlib",
    "numpy",
    "scipy",
    "flax",
    "optax",
    "diffrax",
    "ott-jax",
    "pot",
    "ml_dtypes",
)


def package_versions(names=NUMERIC_PACKAGES) -> dict:
    """{name: installed version or None}."""
    from importlib import metadata

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {name: version(name) for name in names}


def cpu_fingerprint() -> str:
    """The CPU's model name and a hash of its instruction-set flags (XLA:CPU picks kernels by
    them): two machines reporting one model name can differ in AVX-512 and so in float32
    rounding."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return "unknown"
    field = lambda key: next((l.split(":", 1)[1].strip() for l in lines if l.startswith(key)), "")
    flags = " ".join(sorted(set(field("flags").split())))
    return f"{field('model name')} / flags {hashlib.sha256(flags.encode()).hexdigest()[:12]}"


def environment() -> dict:
    """What a bit-for-bit result depends on besides the code: the CPU and the numeric packages."""
    return {"cpu": cpu_fingerprint(), "packages": package_versions()}


def record(config, wall_seconds: float, revision: str | None = None) -> dict:
    """The provenance of a result; `revision` is the checkout's when the run started (its code),
    and where the checkout has moved since, `git_revision_at_end` says to what."""
    import jax

    import diffjax

    device = jax.devices()[0]
    now = git_revision()
    moved = {"git_revision_at_end": now} if revision not in (None, now) else {}
    return {
        "git_revision": revision or now,
        **moved,
        "config_hash": config_hash(config),
        "diffjax_version": diffjax.__version__,
        "jax_version": jax.__version__,
        "packages": package_versions(),
        "device": f"{jax.device_count()} x {device.device_kind} ({device.platform})",
        "wall_seconds": wall_seconds,
    }
