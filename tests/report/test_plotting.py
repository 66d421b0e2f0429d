"""Figures rendered by worker processes are the figures rendered in-process; failures surface."""

import pytest
from conftest import ROOT

from lowcap.errors import WriteError
from lowcap.report.plotting import figure_workers, new_figure, save_figure


def _figure():
    fig, (ax,) = new_figure()
    ax.plot([0, 1, 2], [0.5, 0.9, 0.7], label="F1")
    ax.fill_between([0, 1, 2], [0.4, 0.8, 0.6], [0.6, 1.0, 0.8], alpha=0.2)
    ax.legend()
    return fig


def test_worker_rendering_writes_the_same_png_as_in_process(tmp_path):
    here = save_figure(_figure(), tmp_path / "here", "fig")
    with figure_workers(2):
        there = save_figure(_figure(), tmp_path / "there", "fig")
    assert there.read_bytes() == here.read_bytes()
    assert (tmp_path / "there" / "fig.svg").stat().st_size > 0


def test_a_failed_write_in_a_worker_is_raised_when_the_block_ends(tmp_path):
    blocker = tmp_path / "figures"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(WriteError, match="cannot write"), figure_workers(2):
        save_figure(_figure(), blocker, "fig")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]


def _stamps(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix != ".json"}


def test_a_figure_is_drawn_again_only_where_its_content_or_its_files_changed(tmp_path):
    folder = tmp_path / "figures"
    first = save_figure(_figure(), folder, "fig").read_bytes()
    drawn = _stamps(folder)
    with figure_workers(2):  # the same content, built again: nothing is drawn
        save_figure(_figure(), folder, "fig")
    assert _stamps(folder) == drawn
    fig, (ax,) = new_figure()
    ax.plot([0, 1, 2], [0.5, 0.9, 0.71])  # one point moved
    save_figure(fig, folder, "fig")
    assert _stamps(folder)["fig.png"] != drawn["fig.png"]
    save_figure(_figure(), folder, "fig")  # back to the first content: drawn as at first
    assert (folder / "fig.png").read_bytes() == first
    (folder / "fig.png").write_bytes(b"edited")  # a file changed on disk is drawn again
    save_figure(_figure(), folder, "fig")
    assert (folder / "fig.png").read_bytes() == first
    (folder / "fig.svg").unlink()
    save_figure(_figure(), folder, "fig")
    assert (folder / "fig.svg").stat().st_size > 0


def test_a_figures_fingerprint_is_the_same_in_another_process():
    import subprocess
    import sys

    from lowcap.report.plotting import fingerprint

    code = ("import sys; sys.path.insert(0, 'tests'); from report.test_plotting import _figure; "
            "from lowcap.report.plotting import fingerprint; print(fingerprint(_figure()))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=ROOT).stdout.strip()
    assert there == fingerprint(_figure())
    for _ in range(3):  # other figures made before it do not change it (their numbers differ)
        new_figure()
    assert fingerprint(_figure()) == there
    fig, (ax,) = new_figure()
    ax.plot([0, 1, 2], [0.5, 0.9, 0.7], label="F2")
    assert fingerprint(fig) != there
