import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sklearn_genre.evaluation import evaluate_predictions
from sklearn_genre.figures import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_model_comparison,
    plot_search_results,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    return path.read_bytes()[:8] == PNG_MAGIC


def _labels(ax):
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_confusion_matrix_counts_and_normalised(tmp_path):
    r = evaluate_predictions(["a", "a", "b", "b", "b"], ["a", "b", "b", "b", "a"])
    fig = plot_confusion_matrix(r, path=tmp_path / "cm.png")
    assert isinstance(fig, Figure) and _is_png(tmp_path / "cm.png")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[1, 1], [1, 2]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]

    fig = plot_confusion_matrix(r.confusion_matrix, ["a", "b"], normalize="true")
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[0.5, 0.5], [1 / 3, 2 / 3]])
    # a genre with no test item (all-zero row) stays 0, not NaN
    fig = plot_confusion_matrix(np.array([[2, 0], [0, 0]]), normalize="true")
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), [[1, 0], [0, 0]])


@pytest.mark.parametrize(
    "cm, labels, kw, match",
    [
        (np.ones((2, 3)), None, {}, "square"),
        (np.ones((2, 2)), ["a"], {}, "labels"),
        (np.ones((2, 2)), None, {"normalize": "rows"}, "normalize"),
    ],
)
def test_confusion_matrix_bad_input(cm, labels, kw, match):
    with pytest.raises(ValueError, match=match):
        plot_confusion_matrix(cm, labels, **kw)


def test_learning_curves_full_history(tmp_path):
    history = [
        {
            "epoch": i + 1,
            "train_loss": 2.0 / (i + 1),
            "valid_loss": 2.5 / (i + 1),
            "train_acc": 0.2 + 0.1 * i,
            "valid_acc": 0.1 + 0.1 * i,
            "valid_acc_best": i == 2,
            "event_lr": 1e-3 * 0.5**i,
        }
        for i in range(4)
    ]
    fig = plot_learning_curves(history, path=tmp_path / "lc.png")
    assert _is_png(tmp_path / "lc.png")
    loss_ax, acc_ax, lr_ax = fig.axes
    assert _labels(loss_ax)[:2] == ["train_loss", "valid_loss"]
    assert _labels(acc_ax)[:2] == ["train_acc", "valid_acc"]
    assert _labels(lr_ax)[0] == "event_lr"
    assert lr_ax.get_yscale() == "log"
    np.testing.assert_allclose(loss_ax.get_lines()[1].get_ydata(), [2.5, 1.25, 2.5 / 3, 0.625])
    best = [line for line in acc_ax.get_lines() if "best" in line.get_label()]
    assert best and best[0].get_xdata()[0] == 3


def test_learning_curves_tolerate_missing_keys_and_batch_lr():
    history = [
        {"epoch": 1, "train_loss": 1.0, "batches": [{"lr": 0.1}, {"lr": 0.05}]},
        {"epoch": 2, "train_loss": 0.8, "valid_loss": None, "batches": [{"lr": 0.01}]},
    ]
    fig = plot_learning_curves(history)
    loss_ax, acc_ax, lr_ax = fig.axes
    assert _labels(loss_ax) == ["train_loss"]
    assert any("not recorded" in t.get_text() for t in acc_ax.texts)
    np.testing.assert_allclose(lr_ax.get_lines()[0].get_ydata(), [0.05, 0.01])
    with pytest.raises(ValueError, match="empty"):
        plot_learning_curves([])


def _grid():
    rows = []
    for bs in (16, 32, 48):
        for lr in (1e-4, 1e-3, 1e-2):
            score = 0.5 + 0.01 * bs / 16 - abs(np.log10(lr) + 3) * 0.1
            rows.append(
                {
                    "param_clf__batch_size": bs,
                    "param_clf__lr": lr,
                    "mean_test_score": score,
                    "std_test_score": 0.01 * bs / 16,
                }
            )
    return pd.DataFrame(rows)


def test_search_results_best_per_value_and_log_axis(tmp_path):
    fig = plot_search_results(_grid(), "lr", path=tmp_path / "lr.png")
    assert _is_png(tmp_path / "lr.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [1e-4, 1e-3, 1e-2])
    # best over batch sizes is batch size 48 for every lr
    np.testing.assert_allclose(line.get_ydata(), [0.43, 0.53, 0.43])

    fig = plot_search_results(_grid().to_dict(orient="list"), "clf__batch_size", hue="lr")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    assert len(ax.get_legend().get_texts()) == 3
    assert ax.get_legend().get_texts()[0].get_text() == "lr=0.0001"


def test_search_results_errors():
    df = _grid()
    with pytest.raises(ValueError, match="no parameter 'momentum'"):
        plot_search_results(df, "momentum")
    df["param_other__lr"] = 0.1
    with pytest.raises(ValueError, match="ambiguous"):
        plot_search_results(df, "lr")
    with pytest.raises(ValueError, match="no column"):
        plot_search_results(df, "clf__lr", score="mean_train_score")


def test_model_comparison_mapping_and_table(tmp_path):
    fig = plot_model_comparison({"cnn": [0.5, 0.6], "gru": [0.4, 0.4]}, path=tmp_path / "cmp.png")
    assert _is_png(tmp_path / "cmp.png")
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, [0.55, 0.4])

    table = pd.DataFrame(
        {
            "model": ["cnn", "gru", "cnn_gru"],
            "mean_accuracy": [0.5, 0.55, 0.6],
            "std_accuracy": [0.01, 0.02, 0.03],
            "mean_fit_time": [10.0, 20.0, 30.0],
        }
    )
    fig = plot_model_comparison(table)
    assert len(fig.axes) == 2
    np.testing.assert_allclose([p.get_height() for p in fig.axes[1].patches], [10, 20, 30])
    with pytest.raises(ValueError, match="mean_f1"):
        plot_model_comparison(table, metric="f1")


def test_no_pyplot_figures_are_left_open():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_confusion_matrix(np.eye(3))
    plot_learning_curves([{"train_loss": 1.0}])
    assert plt.get_fignums() == before
