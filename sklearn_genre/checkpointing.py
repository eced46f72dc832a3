"""Training checkpoints that survive a killed process, and resuming from them.

Two skorch callbacks, used with any :mod:`sklearn_genre.classifiers` estimator:

- :class:`TrainingCheckpoint` saves, at the end of every epoch, the complete training state
  into ``dirname/last-epoch-NNNN/``: module parameters (including the band standardisation
  buffers), optimizer, criterion and history through skorch's ``save_params``, plus
  ``training_state.pt`` with what skorch's own checkpoints leave out: the state of every
  learning-rate scheduler (``lr_scheduler_.state_dict()``), every ``EarlyStopping``'s counters,
  every scoring callback's best score, torch's random number generator states and the
  classes and band statistics the run was fitted with. The epochs the net's
  ``EarlyStopping`` counts as improvements are also saved as ``dirname/best-epoch-NNNN/``.
- :class:`ResumeFromCheckpoint` is skorch's :class:`~skorch.callbacks.LoadInitState` for a
  :class:`TrainingCheckpoint`: at the start of ``fit`` it loads module, optimizer, criterion
  and history through ``net.load_params(checkpoint=...)`` exactly as ``LoadInitState`` does,
  then restores the rest of ``training_state.pt``.

Every checkpoint is written into a temporary folder that is renamed into place when it is
complete, so a process killed at any moment (SIGKILL, power loss) leaves the previous
checkpoint intact, and a folder named ``last-epoch-NNNN`` is always complete. A write error
(full disk) raises :class:`CheckpointError` and leaves the previous checkpoint.

Resuming runs only the epochs that are left: pass ``epochs`` to ``fit`` (skorch forwards it to
``fit_loop``)::

    cp = TrainingCheckpoint("checkpoints")
    clf = CNNGRUAttentionClassifier(max_epochs=60, random_state=0,
                                    callbacks=[("checkpoint", cp)])
    clf.fit(X, y)                       # killed during epoch 24

    # in a new process
    cp = TrainingCheckpoint("checkpoints")
    clf = CNNGRUAttentionClassifier(max_epochs=60, random_state=0, callbacks=[
        ("checkpoint", cp), ("resume", ResumeFromCheckpoint(cp, required=True))])
    clf.fit(X, y, epochs=60 - cp.latest().epoch)   # epochs 24 .. 60

With the same data, parameters and an int ``random_state`` on the CPU, the resumed fit is
bit-identical to an uninterrupted one (same weights, same history apart from the epoch
durations); ``tests/test_checkpointing.py`` checks it.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping, LoadInitState
from skorch.utils import noop

from .atomic import atomic_directory
from .exceptions import CheckpointError

__all__ = [
    "CheckpointError",
    "CheckpointInfo",
    "ResumeFromCheckpoint",
    "TrainingCheckpoint",
]

#: Files of one checkpoint folder: skorch's ``save_params`` files and our training state.
SKORCH_FILES = {
    "f_params": "params.pt",
    "f_optimizer": "optimizer.pt",
    "f_criterion": "criterion.pt",
    "f_history": "history.json",
}
STATE_FILE = "training_state.pt"
STATE_FORMAT = 1
_DIR_RE = re.compile(r"^(last|best)-epoch-(\d+)$")


@dataclass(frozen=True)
class CheckpointInfo:
    """One complete checkpoint folder.

    Attributes
    ----------
    kind : {"last", "best"}
    epoch : int
        Epochs completed when it was written (1-based, as in ``history[:, "epoch"]``).
    path : pathlib.Path
        The folder.
    """

    kind: str
    epoch: int
    path: Path

    def files(self):
        """``{f_params: path, f_optimizer: ..., f_criterion: ..., f_history: ...}``."""
        return {key: os.fspath(self.path / name) for key, name in SKORCH_FILES.items()}


def _list_checkpoints(dirname, kind):
    out = []
    try:
        entries = list(os.scandir(dirname))
    except FileNotFoundError:
        return out
    for entry in entries:
        m = _DIR_RE.match(entry.name)
        if m and m.group(1) == kind and entry.is_dir():
            out.append(CheckpointInfo(kind, int(m.group(2)), Path(entry.path)))
    return sorted(out, key=lambda c: c.epoch)


def _plain(obj):
    """Numpy scalars to Python numbers, recursively (``torch.load(weights_only=True)`` safe)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible on every platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _training_state(net):
    """What skorch's ``save_params`` does not save, as plain types and tensors."""
    callbacks = {}
    for name, cb in net.callbacks_:
        state = {}
        scheduler = getattr(cb, "lr_scheduler_", None)
        if scheduler is not None and hasattr(scheduler, "state_dict"):
            state["lr_scheduler"] = scheduler.state_dict()
            state["batch_idx"] = int(getattr(cb, "batch_idx_", 0))
        if isinstance(cb, EarlyStopping):
            state["early_stopping"] = {
                "misses": int(cb.misses_),
                "dynamic_threshold": float(cb.dynamic_threshold_),
                "best_epoch": int(getattr(cb, "best_epoch_", 0)),
            }
        if hasattr(cb, "best_score_"):
            state["best_score"] = float(cb.best_score_)
        if state:
            callbacks[name] = state
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    scaler = getattr(net, "grad_scaler_", None)
    state = {
        "format": STATE_FORMAT,
        "epoch": len(net.history),
        "callbacks": callbacks,
        "rng": rng,
        "grad_scaler": scaler.state_dict() if scaler is not None else None,
    }
    if hasattr(net, "label_encoder_"):
        state["classes"] = [str(c) for c in net.classes_]
    for attr in ("band_mean_", "band_std_"):
        if hasattr(net, attr):
            state[attr] = torch.as_tensor(np.asarray(getattr(net, attr), dtype=np.float64))
    return _plain(state)


class TrainingCheckpoint(Callback):
    """Save the complete training state at the end of every epoch, atomically.

    Parameters
    ----------
    dirname : str or path-like
        Folder of the checkpoints (created when training starts). One training at a time
        may use it.
    monitor : "auto", str, callable or None, default="auto"
        Which epochs are also saved as the best checkpoint (``best-epoch-NNNN``):
        ``"auto"``: the epochs in which the net's :class:`~skorch.callbacks.EarlyStopping`
        recorded an improvement (the weights its ``load_best`` restores), no best checkpoint
        without one; a history key such as ``"valid_acc_best"``; a callable ``f(net) ->
        bool``; None: no best checkpoint.
    sink : callable, default=skorch.utils.noop
        Receives a line per checkpoint written (e.g. ``print``).

    Attributes
    ----------
    dirname_ : pathlib.Path
        The folder.
    last_ : CheckpointInfo or None
        The last checkpoint written by this fit.

    Notes
    -----
    Layout of ``dirname``: ``last-epoch-NNNN/`` (the state after epoch ``NNNN``; older ones
    are removed once a newer one is complete) and ``best-epoch-NNNN/``, each with
    ``params.pt``, ``optimizer.pt``, ``criterion.pt``, ``history.json`` (skorch's
    ``save_params`` files, loadable with ``net.load_params(checkpoint=...)``) and
    ``training_state.pt``. A folder is written as ``.tmp-*`` and renamed when complete.

    Like skorch's ``Checkpoint``, it runs in ``on_epoch_end`` after the default callbacks.
    The epoch in which ``EarlyStopping`` ends training (it raises ``KeyboardInterrupt`` from
    its ``on_epoch_end``) is therefore not checkpointed; that run is complete and needs no
    resume.

    A fit that does not resume (its first epoch is epoch 1) replaces checkpoints left in
    ``dirname`` by an earlier run, with a warning, when its first epoch begins, so a later
    resume can never pick up another run's state.

    ``load_params(checkpoint=...)`` and :class:`~skorch.callbacks.LoadInitState` read the last
    checkpoint through :meth:`get_formatted_files` and :attr:`f_history_`.
    """

    f_params = SKORCH_FILES["f_params"]
    f_optimizer = SKORCH_FILES["f_optimizer"]
    f_criterion = SKORCH_FILES["f_criterion"]
    f_history = SKORCH_FILES["f_history"]

    def __init__(self, dirname, *, monitor="auto", sink=noop):
        self.dirname = dirname
        self.monitor = monitor
        self.sink = sink

    def initialize(self):
        self.dirname_ = Path(self.dirname)
        self.last_ = None
        return self

    # -------------------------------------------------------------- finding
    def latest(self, kind="last"):
        """The newest complete checkpoint of ``kind`` in ``dirname``, or None.

        Parameters
        ----------
        kind : {"last", "best"}

        Returns
        -------
        info : CheckpointInfo or None
        """
        found = _list_checkpoints(self.dirname, kind)
        return found[-1] if found else None

    def _require_latest(self):
        info = self.latest()
        if info is None:
            raise FileNotFoundError(f"no training checkpoint in {self.dirname}")
        return info

    @property
    def f_history_(self):
        """History file of the last checkpoint (read by ``net.load_params(checkpoint=self)``).

        Raises :class:`FileNotFoundError` when there is none, which
        :class:`~skorch.callbacks.LoadInitState` takes as "nothing to load".
        """
        return self._require_latest().files()["f_history"]

    def get_formatted_files(self, net):
        """The ``f_*`` files of the last checkpoint, for ``net.load_params(checkpoint=self)``.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net loading the checkpoint (unused; skorch's checkpoint interface passes it).

        Returns
        -------
        files : dict of str to str
            ``{"f_params": path, "f_optimizer": ..., "f_criterion": ..., "f_history": ...}``.

        Raises
        ------
        FileNotFoundError
            If the directory holds no checkpoint.
        """
        return self._require_latest().files()

    # -------------------------------------------------------------- writing
    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) != 1:
            return
        stale = _list_checkpoints(self.dirname, "last") + _list_checkpoints(self.dirname, "best")
        if stale:
            warnings.warn(
                f"{self.dirname} holds checkpoints of an earlier run (up to epoch "
                f"{max(c.epoch for c in stale)}); this fit starts at epoch 1 and replaces "
                "them (resume with ResumeFromCheckpoint to continue that run instead)",
                UserWarning, stacklevel=2,
            )
            for c in stale:
                shutil.rmtree(c.path, ignore_errors=True)

    def _is_best(self, net):
        monitor = self.monitor
        if monitor is None:
            return False
        if callable(monitor):
            return bool(monitor(net))
        if monitor == "auto":
            epoch = net.history[-1, "epoch"]
            return any(isinstance(cb, EarlyStopping) and getattr(cb, "best_epoch_", 0) == epoch
                       for _, cb in net.callbacks_)
        return bool(net.history[-1, monitor])

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        is_best = self._is_best(net)
        last = self._write(net, "last", epoch)
        self.last_ = last
        if is_best:
            self._write(net, "best", epoch, source=last)
        self.sink(f"checkpoint of epoch {epoch} written to {last.path}"
                  + (" (best so far)" if is_best else ""))

    def _write(self, net, kind, epoch, source=None):
        """Write (or link from ``source``) one checkpoint folder; remove the older ones."""
        dirname = Path(self.dirname)
        final = dirname / f"{kind}-epoch-{epoch:04d}"
        try:
            # replace=True: the same epoch written again (a resumed fit's first epoch).
            with atomic_directory(final, prefix=f".tmp-{kind}-{epoch:04d}-",
                                  replace=True) as tmp:
                if source is None:
                    net.save_params(
                        **{k: os.fspath(tmp / v) for k, v in SKORCH_FILES.items()})
                    torch.save(_training_state(net), tmp / STATE_FILE)
                else:
                    for name in (*SKORCH_FILES.values(), STATE_FILE):
                        try:
                            os.link(source.path / name, tmp / name)
                        except OSError:
                            shutil.copy2(source.path / name, tmp / name)
                for name in os.listdir(tmp):
                    with open(tmp / name, "rb+") as f:
                        os.fsync(f.fileno())
            _fsync_dir(dirname)
        except BaseException as exc:
            if isinstance(exc, Exception):
                raise CheckpointError(
                    f"could not write the {kind} checkpoint of epoch {epoch} to {final}: "
                    f"{type(exc).__name__}: {exc}; the previous checkpoint in {dirname} is "
                    "intact"
                ) from exc
            raise
        for old in _list_checkpoints(dirname, kind):
            if old.path != final:
                shutil.rmtree(old.path, ignore_errors=True)
        for entry in os.scandir(dirname):  # folders of writers that were killed
            if entry.name.startswith(f".tmp-{kind}-") and Path(entry.path) != tmp:
                shutil.rmtree(entry.path, ignore_errors=True)
        return CheckpointInfo(kind, epoch, final)


class ResumeFromCheckpoint(LoadInitState):
    """Continue training from the last :class:`TrainingCheckpoint`.

    skorch's :class:`~skorch.callbacks.LoadInitState` (module, optimizer, criterion and
    history through ``net.load_params(checkpoint=checkpoint)`` in ``on_train_begin``), then
    the rest of the training state: learning-rate scheduler states, ``EarlyStopping``
    counters and best weights, scoring callbacks' best scores, torch's random number
    generator states.

    Parameters
    ----------
    checkpoint : TrainingCheckpoint
        The checkpoint to resume from (normally the same object that keeps saving).
    required : bool, default=False
        False: no checkpoint means a fresh start (``LoadInitState``'s behaviour). True: no
        checkpoint raises :class:`CheckpointError`.

    Attributes
    ----------
    resumed_from_ : CheckpointInfo or None
        The checkpoint loaded, None when training started fresh.

    Notes
    -----
    Place it after the default callbacks (any entry of the ``callbacks`` parameter is): it
    restores the state those callbacks reset in their own ``on_train_begin``.

    The fit runs ``epochs`` epochs (default ``max_epochs``) on top of the loaded ones; pass
    ``fit(X, y, epochs=max_epochs - checkpoint.latest().epoch)`` to end where the interrupted
    fit would have ended.

    Resuming checks that the classes and the band statistics of ``X`` (so, the training data)
    are those of the checkpointed run and raises :class:`ValueError` otherwise.
    """

    def __init__(self, checkpoint, *, required=False):
        super().__init__(checkpoint)
        self.required = required

    def initialize(self):
        super().initialize()
        self.resumed_from_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.did_load_:
            return
        if not isinstance(self.checkpoint, TrainingCheckpoint):
            raise TypeError("ResumeFromCheckpoint needs a TrainingCheckpoint, got "
                            f"{type(self.checkpoint).__name__}")
        info = self.checkpoint.latest()
        if info is None:
            if self.required:
                raise CheckpointError(
                    f"nothing to resume: no complete checkpoint in {self.checkpoint.dirname}")
            self.did_load_ = True
            return
        try:
            state = torch.load(info.path / STATE_FILE, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"cannot read {info.path / STATE_FILE}: "
                                  f"{type(exc).__name__}: {exc}") from exc
        if state.get("format") != STATE_FORMAT:
            raise CheckpointError(f"{info.path / STATE_FILE} has format "
                                  f"{state.get('format')!r}, this version reads {STATE_FORMAT}")
        self._check_same_run(net, state, info)
        super().on_train_begin(net, X=X, y=y, **kwargs)  # params, optimizer, criterion, history
        if len(net.history) != info.epoch:
            raise CheckpointError(f"{info.path} holds {len(net.history)} epochs of history, "
                                  f"expected {info.epoch}")
        self._restore(net, state, info)
        self.resumed_from_ = info
        if net.verbose:
            print(f"Resuming from the checkpoint of epoch {info.epoch} ({info.path}).")

    @staticmethod
    def _check_same_run(net, state, info):
        if "classes" in state and hasattr(net, "label_encoder_"):
            classes = [str(c) for c in net.classes_]
            if classes != state["classes"]:
                raise ValueError(f"the checkpoint {info.path} was trained on classes "
                                 f"{state['classes']}, this fit has {classes}")
        for attr in ("band_mean_", "band_std_"):
            if attr in state and hasattr(net, attr):
                saved = state[attr].numpy()
                now = np.asarray(getattr(net, attr), dtype=np.float64)
                if saved.shape != now.shape or not np.array_equal(saved, now):
                    raise ValueError(
                        f"the training data differs from the data of the checkpoint "
                        f"{info.path} (its per-band statistics {attr} differ): resume with "
                        "the same X"
                    )

    def _restore(self, net, state, info):
        saved = state["callbacks"]
        best = self.checkpoint.latest("best")
        for name, cb in net.callbacks_:
            s = saved.get(name)
            if s is None:
                continue
            if "lr_scheduler" in s and getattr(cb, "lr_scheduler_", None) is not None:
                cb.lr_scheduler_.load_state_dict(s["lr_scheduler"])
                cb.batch_idx_ = s["batch_idx"]
            if "early_stopping" in s and isinstance(cb, EarlyStopping):
                es = s["early_stopping"]
                cb.misses_ = es["misses"]
                cb.dynamic_threshold_ = es["dynamic_threshold"]
                cb.best_epoch_ = es["best_epoch"]
                cb.best_model_weights_ = None
                if cb.load_best and cb.best_epoch_:
                    if best is not None and best.epoch == cb.best_epoch_:
                        cb.best_model_weights_ = torch.load(
                            best.path / SKORCH_FILES["f_params"], weights_only=True,
                            map_location=torch.device(net.device))
                    else:
                        warnings.warn(
                            f"no best checkpoint of epoch {cb.best_epoch_} in "
                            f"{self.checkpoint.dirname}: {name} cannot restore the best "
                            "weights of the epochs before the resume",
                            UserWarning, stacklevel=2,
                        )
            if "best_score" in s and hasattr(cb, "best_score_"):
                cb.best_score_ = s["best_score"]
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        if state.get("grad_scaler") is not None and hasattr(net, "grad_scaler_"):
            scaler = torch.amp.GradScaler("cuda")
            scaler.load_state_dict(state["grad_scaler"])
            net.grad_scaler_ = scaler
