"""The one Bunch shape returned by every loader (FMA, genre folders, synthetic)."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..exceptions import DatasetWarning  # noqa: F401 (its old import location)

#: Columns of ``Bunch.frame``, in order. The index is ``track_id``.
FRAME_COLUMNS = ("path", "genre", "artist_id", "split")
#: Columns of ``Bunch.excluded``. The index is ``track_id``.
EXCLUDED_COLUMNS = ("path", "genre", "reason")


def empty_excluded():
    """Return an empty ``excluded`` DataFrame with the standard columns."""
    return pd.DataFrame(
        {"path": pd.Series(dtype="str"), "genre": pd.Series(dtype="str"),
         "reason": pd.Series(dtype="str")},
        index=pd.Index([], dtype="int64", name="track_id"),
    )


def make_bunch(frame, *, excluded, missing, has_artists, has_split, descr, as_frame,
               return_X_y, **extra):
    """Assemble a loader's result from its final ``frame``.

    Parameters
    ----------
    frame : DataFrame of shape (n_tracks, 4)
        Index ``track_id``; columns ``path``, ``genre``, ``artist_id``, ``split``.
    excluded : DataFrame of shape (n_excluded, 3)
        Index ``track_id``; columns ``path``, ``genre``, ``reason``.
    missing : list of str
        Audio paths listed in the metadata but absent on disk.
    has_artists, has_split : bool
        Whether ``artist_ids`` / ``split`` are known (else they are ``None``).
    descr : str
        Text for ``DESCR``.
    as_frame, return_X_y : bool
        As in scikit-learn's fetchers.
    **extra
        Further Bunch fields (``root``, ``subset``, ...).
    """
    frame = frame.loc[:, list(FRAME_COLUMNS)]
    paths = frame["path"].to_numpy(dtype=object)
    target = frame["genre"].to_numpy(dtype=object)
    if as_frame:
        data = frame.loc[:, ["path", "artist_id", "split"]]
        target_out = frame["genre"]
    else:
        data, target_out = paths, target
    if return_X_y:
        return data, target_out
    return Bunch(
        data=data,
        target=target_out,
        frame=frame,
        paths=paths,
        target_names=np.array(sorted(set(target)), dtype=object),
        artist_ids=frame["artist_id"].to_numpy() if has_artists else None,
        split=frame["split"].to_numpy(dtype=object) if has_split else None,
        excluded=excluded,
        missing=list(missing),
        DESCR=descr,
        **extra,
    )
