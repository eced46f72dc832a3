"""Data sets: FMA (load and download), genre folders, a synthetic FMA-shaped set, splits."""

from ._bunch import DatasetWarning
from .download import (
    FMA_ARCHIVES,
    FMA_BASE_URL,
    ChecksumError,
    DownloadError,
    download_file,
    fetch_fma,
)
from .fma import (
    FMA_GENRES,
    KNOWN_BROKEN_TRACKS,
    SPLITS,
    SUBSETS,
    TRACKS_COLUMNS,
    fma_audio_path,
    load_fma,
    read_genres,
    read_tracks,
)
from .folder import AUDIO_EXTENSIONS, find_audio_files, load_audio_folder
from .home import DATA_HOME_ENV, get_data_home
from .source import DEFAULT_SYNTHETIC, DataSource, load_data_source, make_data_source
from .splits import (
    ArtistGroupKFold,
    OfficialSplit,
    TrainValidTest,
    artist_filtered_split,
    artist_overlap,
    check_no_artist_leakage,
    official_split,
    random_split,
)
from .synthetic import SYNTHESIS_VERSION, load_default_dataset, make_fma_like

__all__ = [
    "AUDIO_EXTENSIONS",
    "find_audio_files",
    "ArtistGroupKFold",
    "ChecksumError",
    "DATA_HOME_ENV",
    "DEFAULT_SYNTHETIC",
    "DataSource",
    "DatasetWarning",
    "DownloadError",
    "FMA_ARCHIVES",
    "FMA_BASE_URL",
    "FMA_GENRES",
    "KNOWN_BROKEN_TRACKS",
    "OfficialSplit",
    "SPLITS",
    "SUBSETS",
    "SYNTHESIS_VERSION",
    "TRACKS_COLUMNS",
    "TrainValidTest",
    "artist_filtered_split",
    "artist_overlap",
    "check_no_artist_leakage",
    "download_file",
    "fetch_fma",
    "fma_audio_path",
    "get_data_home",
    "load_audio_folder",
    "load_data_source",
    "load_default_dataset",
    "load_fma",
    "make_data_source",
    "make_fma_like",
    "official_split",
    "random_split",
    "read_genres",
    "read_tracks",
]
