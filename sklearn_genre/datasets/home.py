"""Where data sets live on disk: the data home folder."""

import os
from pathlib import Path

__all__ = ["DATA_HOME_ENV", "get_data_home"]

#: Environment variable that overrides the default data home.
DATA_HOME_ENV = "SKLEARN_GENRE_DATA"


def get_data_home(data_home=None):
    """Return the folder where sklearn_genre stores downloaded and generated data.

    Same convention as :func:`sklearn.datasets.get_data_home`: an explicit argument
    wins, then the ``SKLEARN_GENRE_DATA`` environment variable, then
    ``~/sklearn_genre_data``. The folder is created if it does not exist.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit folder. ``~`` is expanded.

    Returns
    -------
    data_home : pathlib.Path
        The (existing) data home folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_genre.datasets import get_data_home
    >>> get_data_home(tempfile.mkdtemp()).is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or Path("~", "sklearn_genre_data")
    data_home = Path(data_home).expanduser()
    data_home.mkdir(parents=True, exist_ok=True)
    return data_home
