"""sklearn_genre: scikit-learn compatible music genre classification.

Audio files or waveforms go through :class:`MelSpectrogramTransformer` into log-mel arrays of shape
``(n_samples, n_mels, n_frames)``; the skorch classifiers (:class:`CNNClassifier`,
:class:`GRUClassifier`, :class:`CNNGRUClassifier`, :class:`CNNGRUAttentionClassifier`) learn genres
from them. Both compose into an ordinary :class:`sklearn.pipeline.Pipeline`.

The package follows the data flow: ``audio`` (decoding) -> ``logmel`` (the pure computation),
``extraction`` (the engine: batches, parallelism, cache, failures) and ``features`` (the
transformer; ``cache``, ``store``) -> ``modules`` (torch networks) -> ``classifiers`` (skorch
estimators) -> ``datasets`` (FMA, folders, synthetic, splits, data sources) -> ``selection`` /
``evaluation`` / ``report`` -> ``experiment`` (:func:`run_experiment`: fit, save, evaluate,
record a run) -> ``cli``. ``pretrained`` holds MusiCNN, a network pretrained on a million songs,
as a transformer (:class:`MusicnnTransformer`: embeddings for transfer learning) and as a
zero-shot tagger (:func:`predict_tags`). Every exception and warning is in ``exceptions``.

Public names are imported lazily, so ``import sklearn_genre`` does not import torch until a
name that needs it is used.
"""

import importlib

from . import exceptions as _exceptions

__version__ = "0.1.0"

_EXPORTS = {
    "audio": ["load_audio"],
    "cache": ["FeatureCache"],
    "logmel": ["log_mel_spectrogram", "mel_filter_bank"],
    "extraction": ["Extraction", "ExtractionFailure", "extract"],
    "features": ["LogMelPlan", "MelSpectrogramTransformer"],
    "store": ["extract_to_store", "open_store", "read_store_metadata"],
    "classifiers": [
        "CNNClassifier",
        "CNNGRUAttentionClassifier",
        "CNNGRUClassifier",
        "GRUClassifier",
    ],
    "checkpointing": ["ResumeFromCheckpoint", "TrainingCheckpoint"],
    "persistence": ["load_model", "save_model"],
    "datasets": [
        "ArtistGroupKFold",
        "OfficialSplit",
        "fetch_fma",
        "load_audio_folder",
        "DataSource",
        "load_data_source",
        "load_default_dataset",
        "load_fma",
        "make_data_source",
        "make_fma_like",
        "official_split",
        "random_split",
    ],
    "selection": [
        "DEFAULT_BATCH_SIZES",
        "DEFAULT_LRS",
        "MODELS",
        "bayes_search",
        "compare_models",
        "default_search_spaces",
        "grid_search",
        "make_model",
        "search_results_frame",
    ],
    "evaluation": [
        "ConfidenceInterval",
        "EvaluationResult",
        "bootstrap_ci",
        "evaluate",
        "evaluate_outside",
        "paired_bootstrap_ci",
    ],
    "diagnostics": ["diagnose_predictions"],
    "valid_split": ["StratifiedValidSplit"],
    "experiment": [
        "ExperimentResult",
        "evaluate_folder",
        "evaluate_run",
        "load_run_model",
        "resume_experiment",
        "run_comparison",
        "run_experiment",
        "run_search",
    ],
    "leakage": ["LeakageReport", "check_leakage"],
    "inference": ["predict_track", "predict_tracks"],
    "pretrained": ["MusicnnTransformer", "fetch_musicnn_weights", "load_musicnn",
                   "predict_tags"],
    "report": ["write_report"],
    "provenance": ["RunInfo", "data_fingerprint", "make_run_dir"],
    "exceptions": list(_exceptions.__all__),  # cheap: no third-party imports
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE) + ["__version__"]


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sklearn_genre' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
