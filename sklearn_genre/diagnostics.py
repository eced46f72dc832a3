"""Flags for a model that learned nothing: collapsed predictions and chance-level scores.

On small data a network often ends training predicting one genre for every clip (the
majority class, or whichever class the first epoch favoured), or scores no better than
guessing. The accuracy of such a model can still look respectable on an unbalanced test set.
:func:`diagnose_predictions` names both situations, so the report, ``results.json`` and the
printed summary say so instead of leaving it to the reader.

Rules (simple and documented; a confidence interval says more where there is one):

- ``"collapsed"``: every prediction is the same genre while the test set has at least two;
- ``"at_chance"``: the balanced accuracy (mean recall over the genres in the test set) is at
  most ``1 / n_genres + margin`` (``margin`` default :data:`CHANCE_MARGIN`, 0.05).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHANCE_MARGIN", "diagnose_predictions"]

#: Balanced accuracy within this of chance (1 / n_genres) is flagged as "at_chance".
CHANCE_MARGIN = 0.05


def diagnose_predictions(y_true, y_pred, *, margin=CHANCE_MARGIN):
    """Flags for predictions that collapse to one genre or score at chance.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True genres.
    y_pred : array-like of shape (n_samples,)
        Predicted genres.
    margin : float, default=0.05
        Balanced accuracy at most ``1 / n_genres + margin`` counts as chance.

    Returns
    -------
    flags : list of dict
        One dict per finding, each with ``"flag"`` (``"collapsed"`` or ``"at_chance"``),
        ``"message"`` (a sentence for reports) and the numbers behind it. Empty when neither
        applies, or when the test set has a single genre (nothing to compare against).

    Examples
    --------
    >>> [f["flag"] for f in diagnose_predictions(["a", "b", "b"], ["b", "b", "b"])]
    ['collapsed', 'at_chance']
    >>> diagnose_predictions(["a", "b"], ["a", "b"])
    []
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of the same length; got shapes "
                         f"{y_true.shape} and {y_pred.shape}")
    genres = np.unique(y_true)
    if len(genres) < 2:
        return []
    flags = []
    predicted, counts = np.unique(y_pred, return_counts=True)
    if len(predicted) == 1:
        flags.append({
            "flag": "collapsed",
            "message": (f"predictions collapsed to one genre: every one of the {len(y_pred)} "
                        f"test clips is predicted {str(predicted[0])!r}; the model has not "
                        "learned to tell the genres apart"),
            "predicted": str(predicted[0]),
        })
    chance = 1.0 / len(genres)
    # mean recall over the genres in y_true (sklearn's balanced accuracy, without its
    # warning about predicted genres absent from y_true)
    balanced = float(np.mean([np.mean(y_pred[y_true == g] == g) for g in genres]))
    if balanced <= chance + margin:
        flags.append({
            "flag": "at_chance",
            "message": (f"balanced accuracy {balanced:.3f} is at chance level (1/{len(genres)}"
                        f" = {chance:.3f}, margin {margin:g}): the model does no better than "
                        "guessing on this test set"),
            "balanced_accuracy": balanced,
            "chance": chance,
            "margin": float(margin),
        })
    return flags
