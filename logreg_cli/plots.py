"""PNG plots of a run: the learning curve and the confusion matrix.

matplotlib is an optional dependency (``pip install '.[plot]'`` in the checkout).
It is imported only when a plot is drawn, and only its Agg canvas is used,
so drawing needs no display and leaves pyplot's global state alone.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from logreg_cli.io import atomic_write
from logreg_cli.train import EpochRecord

INSTALL_HINT = "pip install '.[plot]' in the logreg-cli checkout (or pip install matplotlib)"
DPI = 100


def plotting_available() -> bool:
    """Return whether matplotlib can be imported."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        # find_spec raises ValueError when sys.modules maps the name to None, which is how tests hide a package.
        return False


def _new_figure(width: float, height: float):  # -> matplotlib.figure.Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | Path) -> None:
    with atomic_write(path, "wb", encoding=None) as stream:
        figure.savefig(stream, format="png", dpi=DPI)


def plot_learning_curve(history: Sequence[EpochRecord], best_epoch: int, path: str | Path, *,
                        weighted: bool = False) -> None:
    """Draw the training and validation loss per epoch, with the best epoch marked, as a PNG.

    Parameters
    ----------
    history : one record per epoch, in order
    best_epoch : the epoch whose weights were kept (1-based); 0 draws no mark
    path : the PNG file to write
    weighted : the losses are class-weighted means, and the axis label names them so

    Raises
    ------
    ImportError
        When matplotlib is not installed; check :func:`plotting_available` first.
    """
    epochs = np.array([record.epoch for record in history])
    train_loss = np.array([record.train_loss for record in history])
    val_loss = np.array([np.nan if record.val_loss is None else record.val_loss for record in history])
    has_validation = not np.isnan(val_loss).all()
    marker = "o" if len(history) <= 30 else None

    figure = _new_figure(6.4, 4.2)
    axes = figure.add_subplot()
    axes.plot(epochs, train_loss, marker=marker, markersize=3, label="training loss")
    if has_validation:
        axes.plot(epochs, val_loss, marker=marker, markersize=3, label="validation loss")
    if best_epoch > 0:
        axes.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        if has_validation:
            axes.plot([best_epoch], [val_loss[best_epoch - 1]], marker="*", markersize=12, color="black", linestyle="none")
    axes.set_xlabel("epoch")
    axes.set_ylabel("weighted mean cross-entropy" if weighted else "mean cross-entropy")
    axes.set_title("Learning curve")
    axes.grid(True, alpha=0.3)
    axes.legend()
    if len(epochs) and epochs.max() <= 20:
        axes.set_xticks(epochs)
    _save(figure, path)


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], path: str | Path, *, title: str) -> None:
    """Draw a confusion matrix with its counts as a PNG.

    Cells are coloured by the share of their row (the recall of the true
    label), so that rare labels stay visible next to frequent ones.

    Parameters
    ----------
    matrix : ndarray of int, shape (n_labels, n_labels); rows are true labels, columns predicted labels
    labels : label names of the rows and columns
    path : the PNG file to write
    title : the title above the matrix

    Raises
    ------
    ImportError
        When matplotlib is not installed; check :func:`plotting_available` first.
    """
    matrix = np.asarray(matrix)
    n_labels = len(labels)
    row_sums = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_sums, out=np.zeros(matrix.shape), where=row_sums > 0)
    side = min(16.0, max(4.5, 0.5 * n_labels + 2.5))
    font_size = 10 if n_labels <= 10 else max(5, 10 - (n_labels - 10) // 3)

    figure = _new_figure(side + 1.0, side)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the true label's documents")
    axes.set_xticks(range(n_labels), labels=list(labels), rotation=45 if n_labels > 3 else 0, ha="right" if n_labels > 3 else "center",
                    fontsize=font_size)
    axes.set_yticks(range(n_labels), labels=list(labels), fontsize=font_size)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title(title)
    for row in range(n_labels):
        for column in range(n_labels):
            axes.text(column, row, str(int(matrix[row, column])), ha="center", va="center", fontsize=font_size,
                      color="white" if shares[row, column] > 0.5 else "black")
    _save(figure, path)
