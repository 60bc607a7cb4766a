"""What produced a result: the revision a run started at, a checkout's dirtiness, the code a
long-lived process imported (experiments/provenance.py)."""

import subprocess

import jax

from configs import flow2d
from experiments import provenance
from tests.cases import configured


def test_provenance_names_the_revision_a_run_started_at():
    """A checkout that moves while a run goes on (a commit, an edit) does not relabel the
    result: git_revision is the start's and git_revision_at_end says where the checkout went;
    the numeric packages' versions are recorded."""
    config = configured(flow2d)
    now = provenance.git_revision()
    moved = provenance.record(config, 1.0, "abc1234")
    assert moved["git_revision"] == "abc1234" and moved["git_revision_at_end"] == now
    same = provenance.record(config, 1.0, now)
    assert same["git_revision"] == now and "git_revision_at_end" not in same
    assert same["packages"]["jax"] == jax.__version__


def test_a_checkout_is_dirty_for_code_changes_not_for_regenerated_docs(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "docs").mkdir()
    for name in ("docs/table.md", "README.md", "model.py"):
        (tmp_path / name).write_text("v1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    clean = provenance.git_revision(str(tmp_path))
    assert len(clean) == 7 and "dirty" not in clean
    (tmp_path / "docs" / "table.md").write_text("v2\n")  # a table regenerated in place
    (tmp_path / "docs" / "new.md").write_text("new\n")
    (tmp_path / "README.md").write_text("v2\n")
    assert provenance.git_revision(str(tmp_path)) == clean
    (tmp_path / "helper.py").write_text("x = 1\n")  # untracked code may be imported
    assert provenance.git_revision(str(tmp_path)) == clean + "-dirty"
    (tmp_path / "helper.py").unlink()
    (tmp_path / "model.py").write_text("v2\n")
    assert provenance.git_revision(str(tmp_path)) == clean + "-dirty"


def test_a_long_lived_process_names_the_code_it_imported(monkeypatch):
    """A study process runs jobs for hours while the checkout moves: each row names the
    revision the process first saw (its code), not HEAD at the job's start."""
    heads = iter(["aaa1111-dirty", "bbb2222"])
    monkeypatch.setattr(provenance, "git_revision", lambda: next(heads))
    provenance.code_revision.cache_clear()
    try:
        assert provenance.code_revision() == "aaa1111-dirty"
        assert provenance.code_revision() == "aaa1111-dirty"  # HEAD moved to bbb2222 meanwhile
    finally:
        provenance.code_revision.cache_clear()
