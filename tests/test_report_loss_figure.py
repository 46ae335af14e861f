"""The loss-curve figure: losses and validation metrics in separate panels, one scale each, legends off the curves,
counters (tokens, tokens/s) not drawn."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from lea.report.figures import log_panels, loss_curves, loss_figure

REC_COLUMNS = ["step", "epoch", "l_h", "l_p", "l_n", "total", "valid_hr@10", "valid_ndcg@10", "advantage"]
LE_COLUMNS = [
    "epoch",
    "step",
    "loss_rm",
    "acc_rm",
    "loss_sm",
    "loss_choice",
    "acc_choice",
    "loss",
    "tokens",
    "tokens_per_s",
]


def test_columns_go_to_their_panel_and_counters_to_none():
    assert log_panels(REC_COLUMNS) == {
        "loss": ["l_h", "l_p", "l_n", "total"],
        "validation": ["valid_hr@10", "valid_ndcg@10"],
    }
    assert log_panels(LE_COLUMNS) == {
        "loss": ["loss_rm", "loss_sm", "loss_choice", "loss"],
        "validation": ["acc_rm", "acc_choice"],
    }


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def test_one_scale_per_panel_and_legends_beside_the_axes(tmp_path):
    rec = _write(
        tmp_path / "rec.csv",
        ["step,l_h,l_n,total,valid_ndcg@10", "50,3.4,0.0002,3.5,", "100,3.0,0.05,3.1,0.3", "150,2.0,0.08,2.1,0.4"],
    )
    # an SA2C-style log whose policy term goes negative: a log axis would hide it, so the panel stays linear
    neg = _write(tmp_path / "neg.csv", ["step,l_h,l_p,total", "1,2.0,-0.5,1.5", "2,1.5,-0.7,0.8"])
    le = _write(
        tmp_path / "le.csv",
        [
            "epoch,step,loss_rm,acc_rm,loss,tokens,tokens_per_s",
            "0,1,0.69,0.5,0.69,1200,300.0",
            "0,2,0.60,0.7,0.60,2400,310.0",
        ],
    )
    fig = loss_figure(
        [{"path": str(rec), "label": "rec"}, {"path": str(neg), "label": "neg"}, {"path": str(le), "label": "le"}]
    )
    axes = fig.axes
    assert len(axes) == 6  # [losses, validation] per log, no twin axes
    assert [a.get_yscale() for a in axes[0::2]] == ["log", "linear", "log"]
    assert {a.get_yscale() for a in axes[1::2]} == {"linear"}
    assert [[ln.get_label() for ln in a.get_lines()] for a in axes[4:6]] == [["loss_rm", "loss"], ["acc_rm"]]
    fig.canvas.draw()
    assert axes[3].get_lines() == [] and axes[3].get_legend() is None  # the log has no validation columns
    for ax in [a for a in axes if a.get_lines()]:
        box = ax.get_window_extent()
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= box.x1, ax.get_title()  # beside the panel, never over a curve
    # no negative tick on a loss axis drawn in log scale
    assert all(t > 0 for t in axes[0].get_yticks() if axes[0].get_ylim()[0] <= t <= axes[0].get_ylim()[1])
    plt.close(fig)
    loss_curves([{"path": str(rec), "label": "rec"}], tmp_path / "l.png")
    assert (tmp_path / "l.png").stat().st_size > 0
