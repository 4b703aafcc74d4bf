"""Figures: right numbers in the right places, and files written atomically."""

import os

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score

from skimb.plots import (
    plot_confusion_matrix,
    plot_history,
    plot_precision_recall,
    save_figure,
)

HISTORY = {
    "loss": [1.2, 0.9, 0.8],
    "val_loss": [1.3, 1.0, 1.1],
    "val_macro_f1": [0.3, 0.5, 0.45],
    "val_balanced_accuracy": [0.35, 0.55, 0.5],
    "val_recall_0": [0.1, 0.2, 0.3],
}


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_plot_history_draws_each_log_against_its_epoch():
    fig = plot_history(HISTORY, best_epoch=1)
    assert isinstance(fig, Figure)
    loss_ax, score_ax = fig.axes
    loss_lines = _lines(loss_ax)
    np.testing.assert_array_equal(loss_lines["training"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_lines["training"].get_ydata(), HISTORY["loss"])
    np.testing.assert_array_equal(
        loss_lines["validation"].get_ydata(), HISTORY["val_loss"]
    )
    score_lines = _lines(score_ax)
    np.testing.assert_array_equal(
        score_lines["macro-F1"].get_ydata(), HISTORY["val_macro_f1"]
    )
    assert "balanced accuracy" in score_lines
    # best_epoch counts from 0, the axis from 1.
    assert score_lines["kept weights"].get_xdata()[0] == 2
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == [
        "training",
        "validation",
        "kept weights",
    ]


def test_plot_history_without_validation_has_one_panel():
    fig = plot_history({"loss": [1.0, 0.5]})
    assert len(fig.axes) == 1
    assert list(_lines(fig.axes[0])) == ["training"]


@pytest.mark.parametrize(
    "history, match",
    [
        ({"val_loss": [1.0]}, "'loss'"),
        ([1.0, 2.0], "'loss'"),
        ({"loss": []}, "no epoch"),
        ({"loss": [1.0, 0.5], "val_macro_f1": [0.2]}, "val_macro_f1"),
    ],
)
def test_plot_history_rejects_bad_history(history, match):
    with pytest.raises(ValueError, match=match):
        plot_history(history)


def _cell_texts(ax):
    # The cell annotations, in row-major order, as the figure shows them.
    texts = [t for t in ax.texts if t.get_text()]
    return sorted(texts, key=lambda t: (t.get_position()[1], t.get_position()[0]))


def test_plot_confusion_matrix_shows_counts_and_recall():
    y_true = np.array(["a", "a", "a", "a", "b", "b", "c"])
    y_pred = np.array(["a", "a", "a", "b", "b", "c", "c"])
    fig = plot_confusion_matrix(y_true, y_pred)
    counts_ax, norm_ax = fig.axes[:2]
    assert [t.get_text() for t in _cell_texts(counts_ax)] == [
        "3", "1", "0",
        "0", "1", "1",
        "0", "0", "1",
    ]  # fmt: skip
    assert [t.get_text() for t in _cell_texts(norm_ax)] == [
        "0.75", "0.25", "0.00",
        "0.00", "0.50", "0.50",
        "0.00", "0.00", "1.00",
    ]  # fmt: skip
    assert [t.get_text() for t in counts_ax.get_yticklabels()] == ["a", "b", "c"]
    # Dark cells get white text, pale cells black, on the fixed 0-1 scale.
    colours = [t.get_color() for t in _cell_texts(norm_ax)]
    assert colours[0] == "white" and colours[1] == "black"


def test_plot_confusion_matrix_keeps_given_labels_and_absent_classes():
    fig = plot_confusion_matrix([1, 1, 0], [1, 0, 0], labels=[1, 0, 2])
    counts_ax, norm_ax = fig.axes[:2]
    assert [t.get_text() for t in counts_ax.get_xticklabels()] == ["1", "0", "2"]
    # Class 2 never occurs: its normalised row is zeros, not NaN.
    assert "nan" not in [t.get_text() for t in _cell_texts(norm_ax)]


def test_plot_confusion_matrix_rejects_length_mismatch():
    with pytest.raises(ValueError, match="different lengths"):
        plot_confusion_matrix([0, 1], [0, 1, 1])


@pytest.mark.parametrize(
    "y_true, y_pred, name",
    [([0, 1, 2, 9], [0, 1, 2, 2], "y_true"), ([0, 1, 2, 2], [0, 1, 2, 9], "y_pred")],
)
def test_plot_confusion_matrix_refuses_labels_it_would_leave_out(y_true, y_pred, name):
    # Left out, a row would vanish from the counts and its class's recall.
    with pytest.raises(ValueError, match=rf"{name} has labels \[9\] that are not"):
        plot_confusion_matrix(y_true, y_pred, labels=[0, 1, 2])


def test_plot_precision_recall_legend_gives_each_class_ap():
    rng = np.random.RandomState(0)
    y = rng.choice(["x", "y", "z"], size=200, p=[0.1, 0.6, 0.3])
    score = rng.dirichlet(np.ones(3), size=200)
    score[:, 0] += (y == "x") * 0.5
    fig = plot_precision_recall(y, score, classes=["x", "y", "z"])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 3
    for label, column, name in zip(labels, range(3), "xyz", strict=True):
        ap = average_precision_score(y == name, score[:, column])
        assert label == (
            f"class {name}: AP {ap:.2f}, prevalence {np.mean(y == name):.2f}"
        )
    # The legend sits outside the axes, clear of the curves.
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1


def test_plot_precision_recall_checks_score_shape():
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        plot_precision_recall([0, 1, 1], np.ones((3, 3)), classes=[0, 1])


def test_save_figure_writes_png_atomically(tmp_path):
    path = save_figure(plot_history({"loss": [1.0, 0.5]}), tmp_path / "curves")
    assert path == tmp_path / "curves.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["curves.png"]


def test_save_figure_appends_png_to_a_name_with_a_dot(tmp_path):
    fig = plot_history({"loss": [1.0, 0.5]})
    assert save_figure(fig, tmp_path / "run.v1").name == "run.v1.png"
    assert save_figure(fig, tmp_path / "model_v1.2").name == "model_v1.2.png"
    assert save_figure(fig, tmp_path / "upper.PNG").name == "upper.PNG"
    assert sorted(os.listdir(tmp_path)) == ["model_v1.2.png", "run.v1.png", "upper.PNG"]


def test_plot_history_draws_a_cross_fits_out_of_fold_score():
    # The score a cross-fit stops on (best_epoch_ is its best epoch).
    history = {"loss": [1.0, 0.5], "oof_macro_f1": [0.3, 0.4]}
    lines = _lines(plot_history(history, best_epoch=1).axes[1])
    np.testing.assert_array_equal(
        lines["out-of-fold macro-F1"].get_ydata(), history["oof_macro_f1"]
    )


def test_save_figure_failure_leaves_nothing(tmp_path):
    fig = plot_history({"loss": [1.0, 0.5]})
    target = tmp_path / "curves.png"
    target.write_bytes(b"old")

    def broken_savefig(file, **kwargs):
        file.write(b"partial")
        raise RuntimeError("disk full")

    fig.savefig = broken_savefig
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(fig, target)
    # The old file is intact and no temporary file is left.
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["curves.png"]


def test_save_figure_rejects_bad_arguments(tmp_path):
    fig = plot_history({"loss": [1.0]})
    for other in ("curves.svg", "curves.jpg", "curves.PDF", "curves.gif"):
        with pytest.raises(ValueError, match="PNG"):
            save_figure(fig, tmp_path / other)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_figure(fig, tmp_path / "missing" / "curves.png")
    with pytest.raises(TypeError, match="Figure"):
        save_figure("not a figure", tmp_path / "curves.png")


def test_plot_precision_recall_keeps_the_legend_of_many_classes_in_the_figure():
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rng = np.random.RandomState(0)
    y_true = rng.randint(30, size=600)
    fig = plot_precision_recall(
        y_true, rng.dirichlet(np.ones(30), size=600), classes=np.arange(30)
    )
    canvas = FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        # ("constrained_layout not applied": the legend did not fit.)
        warnings.simplefilter("error")
        canvas.draw()
    box = fig.axes[0].get_legend().get_window_extent(canvas.get_renderer())
    assert box.y0 >= 0 and box.y1 <= fig.bbox.y1 and box.x1 <= fig.bbox.x1


def test_class_names_with_dollars_draw_as_written(tmp_path):
    # Between two "$" matplotlib reads mathematics: "$10_$20" failed to
    # draw (a report with such a class crashed), "$5-$10" lost its dollars.
    names = ["$10_$20", "$5-$10", "other"]
    rng = np.random.RandomState(0)
    y = rng.choice(names, size=120)
    score = rng.dirichlet(np.ones(3), size=120)
    for fig in (
        plot_confusion_matrix(y, y[::-1], labels=names),
        plot_precision_recall(y, score, classes=names),
    ):
        save_figure(fig, tmp_path / "figure.png")
        fig.canvas.draw()
        drawn = [
            text
            for ax in fig.axes
            for text in [
                *(t for t in ax.get_xticklabels()),
                *(ax.get_legend().get_texts() if ax.get_legend() else []),
            ]
        ]
        # Each name whole, its dollars escaped (drawn as dollars, not read
        # as mathematics).
        shown = [t.get_text() for t in drawn]
        for name in names:
            assert any(name.replace("$", "\\$") in text for text in shown), shown
