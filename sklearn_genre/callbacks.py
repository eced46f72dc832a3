"""skorch callbacks for the sklearn_genre classifiers.

The classifiers in :mod:`sklearn_genre.classifiers` train on integer-coded
targets (``0 .. n_classes - 1``, from a :class:`~sklearn.preprocessing.LabelEncoder`)
while their ``predict`` returns the original labels. :class:`LabelScoring` is
skorch's :class:`~skorch.callbacks.EpochScoring` with the targets decoded back
to the original labels before scoring, so any sklearn scorer (``"accuracy"``,
``"f1_macro"``, ``"neg_log_loss"``, ...) sees consistent labels.
"""

from __future__ import annotations

import numpy as np
from skorch.callbacks import EpochScoring

__all__ = ["LabelScoring"]


class LabelScoring(EpochScoring):
    """Epoch-level scoring on the original class labels.

    Use it instead of :class:`skorch.callbacks.EpochScoring` to add a score to
    the history of a sklearn_genre classifier, for example::

        CNNGRUAttentionClassifier(
            callbacks=[("valid_f1", LabelScoring("f1_macro", name="valid_f1",
                                                 lower_is_better=False))])

    Parameters are those of :class:`skorch.callbacks.EpochScoring`
    (``scoring``, ``lower_is_better``, ``on_train``, ``name``,
    ``target_extractor``, ``use_caching``).

    Notes
    -----
    With ``on_train=True`` and caching (the default), the score uses the
    predictions made during the training batches, i.e. with dropout and
    augmentation active (like Keras' running training accuracy).
    """

    def _scoring(self, net, X_test, y_test):
        if y_test is not None:
            y_test = np.asarray(net.classes_)[np.asarray(y_test, dtype=np.int64)]
        return super()._scoring(net, X_test, y_test)
