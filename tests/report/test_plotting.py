"""Figures rendered by worker processes are the figures rendered in-process; failures surface."""

import pytest

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
