"""Training checkpoints: kill a training process mid-epoch, resume, compare with a clean run."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import sklearn_genre.checkpointing as checkpointing
from sklearn_genre.checkpointing import (
    STATE_FILE,
    CheckpointError,
    ResumeFromCheckpoint,
    TrainingCheckpoint,
)

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 5

# Shared by this process and the training subprocess: tiny data (16 mels x 32 frames) and a
# recipe whose learning rate drops during the run (ReduceLROnPlateau patience 0), so the
# scheduler state matters; early stopping never ends these 5 epochs.
SETUP = f"""
import numpy as np
from sklearn_genre.classifiers import CNNClassifier

def data():
    rng = np.random.default_rng(0)
    X = rng.normal(-40, 10, size=(40, 16, 32)).astype(np.float32)
    y = np.array(["a", "b"] * 20)
    X[y == "a", :4] += 4
    return X, y

def make(callbacks):
    return CNNClassifier(max_epochs={EPOCHS}, batch_size=8, random_state=0, verbose=0,
                         module__channels=(4, 8, 8), callbacks=callbacks,
                         callbacks__lr_scheduler__patience=0,
                         callbacks__early_stopping__patience=50)
"""
_ns = {}
exec(SETUP, _ns)
data, make = _ns["data"], _ns["make"]

CHILD = SETUP + """
import sys, time
from pathlib import Path
from skorch.callbacks import Callback
from sklearn_genre.checkpointing import TrainingCheckpoint

class StallInEpoch(Callback):
    # Announce the given epoch's first batch, then stall until the parent kills us.
    def __init__(self, epoch, flag):
        self.epoch, self.flag = epoch, flag
    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            Path(self.flag).write_text("in epoch")
            time.sleep(120)

ckpt, flag = sys.argv[1], sys.argv[2]
X, y = data()
make([("checkpoint", TrainingCheckpoint(ckpt)), ("stall", StallInEpoch(3, flag))]).fit(X, y)
"""


class RecordResumedState(Callback):
    """Copy the LR scheduler and early stopping state right after the resume (train begin)."""

    def on_train_begin(self, net, **kwargs):
        cbs = dict(net.callbacks_)
        self.scheduler_ = dict(cbs["lr_scheduler"].lr_scheduler_.state_dict())
        es = cbs["early_stopping"]
        self.early_stopping_ = (es.misses_, es.dynamic_threshold_, es.best_epoch_)
        self.n_history_ = len(net.history)


@pytest.fixture(scope="module")
def uninterrupted():
    X, y = data()
    return make(None).fit(X, y)


def _assert_same_training(a, b):
    """Bit-identical weights and history (apart from epoch durations)."""
    assert len(a.history) == len(b.history) == EPOCHS
    for key in ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr",
                "valid_acc_best", "valid_loss_best"):
        assert a.history[:, key] == b.history[:, key], key
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    oa, ob = a.optimizer_.state_dict()["state"], b.optimizer_.state_dict()["state"]
    assert all(torch.equal(oa[i]["exp_avg"], ob[i]["exp_avg"]) for i in oa)
    sched_a = dict(a.callbacks_)["lr_scheduler"].lr_scheduler_.state_dict()
    sched_b = dict(b.callbacks_)["lr_scheduler"].lr_scheduler_.state_dict()
    assert sched_a == sched_b
    es_a, es_b = dict(a.callbacks_)["early_stopping"], dict(b.callbacks_)["early_stopping"]
    assert (es_a.misses_, es_a.best_epoch_) == (es_b.misses_, es_b.best_epoch_)


def _resume(ckpt_dir, X, y):
    cp = TrainingCheckpoint(ckpt_dir)
    done = cp.latest().epoch
    record = RecordResumedState()
    clf = make([("checkpoint", cp), ("resume", ResumeFromCheckpoint(cp, required=True)),
                ("record", record)])
    clf.fit(X, y, epochs=EPOCHS - done)
    return clf, record, done


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(uninterrupted, tmp_path):
    ckpt, flag = tmp_path / "ckpt", tmp_path / "in_epoch_3"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(ckpt), str(flag)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            if proc.poll() is not None:
                pytest.fail("training process ended early:\n" + proc.stdout.read())
            if time.monotonic() > deadline:
                pytest.fail("training never reached epoch 3")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-epoch 3: no handler, no cleanup
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    # what survived the kill: the complete checkpoint of epoch 2 (and the best one)
    cp = TrainingCheckpoint(ckpt)
    assert cp.latest().epoch == 2
    assert cp.latest("best") is not None
    assert sorted(os.listdir(cp.latest().path)) == sorted(
        ["params.pt", "optimizer.pt", "criterion.pt", "history.json", STATE_FILE])
    saved = torch.load(cp.latest().path / STATE_FILE, weights_only=True)

    X, y = data()
    resumed, record, done = _resume(ckpt, X, y)
    assert done == 2 and record.n_history_ == 2
    # the scheduler continued from its saved state, not from a fresh one
    assert record.scheduler_ == saved["callbacks"]["lr_scheduler"]["lr_scheduler"]
    assert record.scheduler_["last_epoch"] == 2
    es = saved["callbacks"]["early_stopping"]["early_stopping"]
    assert record.early_stopping_ == (es["misses"], es["dynamic_threshold"], es["best_epoch"])
    # only the remaining epochs ran, and the result is that of the uninterrupted run
    _assert_same_training(resumed, uninterrupted)
    assert resumed.history[:, "lr"][-1] < resumed.history[:, "lr"][0]  # the schedule acted
    np.testing.assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
    assert TrainingCheckpoint(ckpt).latest().epoch == EPOCHS


def test_checkpoint_files_load_with_skorch_load_params(tmp_path):
    X, y = data()
    cp = TrainingCheckpoint(tmp_path / "ckpt")
    clf = make([("checkpoint", cp)]).fit(X, y, epochs=2)
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names[-1] == "last-epoch-0002" and names[0].startswith("best-epoch-")
    assert cp.latest("best").epoch == dict(clf.callbacks_)["early_stopping"].best_epoch_
    other = make(None).fit(X, y, epochs=1)
    other.load_params(checkpoint=cp)  # skorch's own API reads the last checkpoint
    assert other.history[:, "train_loss"] == clf.history[:, "train_loss"]
    saved = torch.load(cp.latest().path / "params.pt", weights_only=True)
    state = other.module_.state_dict()
    assert all(torch.equal(state[k], saved[k]) for k in saved)


def test_resume_checks_and_fresh_start(tmp_path):
    X, y = data()
    cp = TrainingCheckpoint(tmp_path / "none")
    with pytest.raises(CheckpointError, match="nothing to resume"):
        make([("cp", cp), ("resume", ResumeFromCheckpoint(cp, required=True))]).fit(X, y)
    # not required: a first run starts fresh (LoadInitState's behaviour)
    resume = ResumeFromCheckpoint(cp)
    clf = make([("cp", cp), ("resume", resume)]).fit(X, y, epochs=1)
    assert resume.resumed_from_ is None and cp.latest().epoch == 1
    # other training data: refused, not silently mixed
    X2 = X.copy()
    X2[0] += 1
    cp2 = TrainingCheckpoint(tmp_path / "none")
    with pytest.raises(ValueError, match="training data differs"):
        make([("cp", cp2), ("resume", ResumeFromCheckpoint(cp2))]).fit(X2, y)
    # a fresh fit into a folder with another run's checkpoints replaces them, with a warning
    with pytest.warns(UserWarning, match="checkpoints of an earlier run"):
        make([("cp", TrainingCheckpoint(tmp_path / "none"))]).fit(X, y, epochs=1)
    assert len(clf.history) == 1
    assert [c.name for c in (tmp_path / "none").iterdir()
            if c.name.startswith("last")] == ["last-epoch-0001"]


def test_full_disk_leaves_previous_checkpoint(tmp_path, monkeypatch):
    X, y = data()
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 2:  # the training state of epoch 2
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpointing.torch, "save", save)
    cp = TrainingCheckpoint(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="epoch 2.*No space left.*previous checkpoint"):
        make([("checkpoint", cp)]).fit(X, y)
    entries = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert "last-epoch-0001" in entries
    assert not [e for e in entries if e.startswith(".tmp") or e == "last-epoch-0002"]
    # a killed writer's temporary folder is never taken for a checkpoint
    (tmp_path / "ckpt" / ".tmp-last-0007-x").mkdir()
    assert cp.latest().epoch == 1
