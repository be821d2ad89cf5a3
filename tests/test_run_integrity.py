"""Integrity of the run directory, tried as an operator would: files swapped in from another world,
bits flipped and files truncated in checkpoints, torn log lines, locks, and input rejected before
training. Each damage is detected with one line naming the file, or repaired by falling back."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from xgen import rundir
from xgen.cli import main
from xgen.rundir import locks
from xgen.train.checkpoints import training_state
from xgen.train.config import SFTConfig
from xgen.train.lifecycle import RunMismatch
from xgen.train.packing import Example
from xgen.train.sft import load_final_params, run_sft
from xgen.world.build import build_world
from xgen.world.config import WorldConfig
from xgen.world.store import open_world

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run  # noqa: E402
from test_train_sft import TINY, _copy_task  # noqa: E402

SFT = SFTConfig(steps=12, batch_size=4, seq_len=64, learning_rate=1e-2, warmup_steps=1, checkpoint_every=4,
                keep_checkpoints=3, log_every=1)


def _examples() -> list[Example]:
  return _copy_task(32)


def _params(run: Path) -> list[bytes]:
  return [np.asarray(x).tobytes() for x in jax.tree.leaves(training_state(load_final_params(run, TINY)))]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory) -> Path:
  """An SFT run never interrupted: the reference every repaired run must match bit for bit."""
  run = tmp_path_factory.mktemp("straight") / "run"
  run_sft(TINY, SFT, _examples(), run, show_progress=False)
  return run


def _data_file(step_dir: Path) -> Path:
  """The largest file of a checkpoint's state: where the parameter bytes are."""
  return max((p for p in (step_dir / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def _flip_every_data_file(step_dir: Path) -> None:
  """One bit flipped in each data file of the state (parameters and optimizer state live in several)."""
  for path in (p for p in (step_dir / "state").rglob("*") if p.is_file() and "/d/" in str(p)):
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x10
    path.write_bytes(bytes(data))


# --- the world ------------------------------------------------------------------------------------

SMALL_WORLD = dict(domains=("health", "law"), habit_conversations=6, skill_conversations=6, fact_repeats=2,
                   standard_train=24, trait_train=4, eval_items=4, attack_conversations=4, vocab_size=600)


def test_a_tokenizer_from_another_world_is_named(tmp_path, capsys):
  build_world(WorldConfig(**SMALL_WORLD), tmp_path / "a")
  build_world(WorldConfig(**SMALL_WORLD, seed=1), tmp_path / "b")
  shutil.copy(rundir.tokenizer_path(tmp_path / "b"), rundir.tokenizer_path(tmp_path / "a"))
  with pytest.raises(rundir.DamagedFile, match=r"tokenizer\.model"):
    open_world(tmp_path / "a")
  assert main(["pretrain", "--workdir", str(tmp_path / "a"), "--gin_file", "models/tiny.gin",
               "--gin_param", "SFTConfig.steps = 2", "--gin_param", "SFTConfig.warmup_steps = 0"]) == 1
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1 and "tokenizer.model" in lines[0] and "sha256" in lines[0]
  assert not rundir.base_dir(tmp_path / "a").exists()


def test_a_shard_flipped_on_disk_is_named(tmp_path):
  build_world(WorldConfig(**SMALL_WORLD), tmp_path)
  shard = sorted(rundir.tfds_dir(rundir.world_dir(tmp_path)).rglob("*.array_record-*"))[0]
  data = bytearray(shard.read_bytes())
  data[len(data) // 2] ^= 0x01
  shard.write_bytes(bytes(data))
  with pytest.raises(rundir.DamagedFile, match=shard.name):
    open_world(tmp_path)


# --- checkpoints ----------------------------------------------------------------------------------

def test_flipped_bits_in_a_final_checkpoint_are_named_not_trained_on(straight_run, tmp_path):
  run = tmp_path / "run"
  shutil.copytree(straight_run, run)
  _flip_every_data_file(rundir.checkpoints_dir(run) / "12")
  with pytest.raises(rundir.DamagedFile, match=r"checkpoints/12"):
    load_final_params(run, TINY)


@pytest.mark.parametrize("damage", ["truncate", "missing_manifest", "missing_meta", "flip"])
def test_a_damaged_newest_checkpoint_falls_back_and_repairs(straight_run, tmp_path, damage, capsys):
  run = tmp_path / "run"
  shutil.copytree(straight_run, run)
  step_dir = rundir.checkpoints_dir(run) / "12"
  if damage == "truncate":
    target = _data_file(step_dir)
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
  elif damage == "missing_manifest":
    next(step_dir.rglob("manifest.ocdbt")).unlink()
  elif damage == "missing_meta":
    shutil.rmtree(step_dir / "meta")
  else:
    target = _data_file(step_dir)
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x10
    target.write_bytes(bytes(data))
  rundir.write_status(run, rundir.RUNNING, step=12, steps=12)  # as if killed before it said done

  status = run_sft(TINY, SFT, _examples(), run, show_progress=False)
  said = capsys.readouterr().err
  assert "checkpoint step 12 is damaged" in said and "falling back" in said
  assert status["state"] == rundir.DONE and status["step"] == 12
  assert list(rundir.damaged_dir(run).iterdir())  # kept for inspection, out of the way of orbax
  assert _params(run) == _params(straight_run)
  steps = [row["step"] for row in rundir.read_jsonl(rundir.metrics_path(run))]
  assert steps == list(range(1, 13))


def test_a_torn_metrics_line_does_not_block_resume(straight_run, tmp_path):
  run = tmp_path / "run"
  shutil.copytree(straight_run, run)
  shutil.rmtree(rundir.checkpoints_dir(run) / "12")
  with open(rundir.metrics_path(run), "a") as handle:
    handle.write('{"step": 13, "train/lo')  # a kill in the middle of a line
  rundir.write_status(run, rundir.RUNNING, step=8, steps=12)
  status = run_sft(TINY, SFT, _examples(), run, show_progress=False)
  assert status["state"] == rundir.DONE
  assert [row["step"] for row in rundir.read_jsonl(rundir.metrics_path(run))] == list(range(1, 13))
  assert _params(run) == _params(straight_run)


def test_another_config_is_refused_without_touching_the_status(straight_run, tmp_path):
  run = tmp_path / "run"
  shutil.copytree(straight_run, run)
  before = rundir.status_path(run).read_bytes()
  with pytest.raises(RunMismatch, match="another config"):
    run_sft(TINY, SFTConfig(**{**SFT.__dict__, "learning_rate": 5e-3}), _examples(), run, show_progress=False)
  assert rundir.status_path(run).read_bytes() == before


# --- statuses, locks and bad input ------------------------------------------------------------------

def test_unreadable_status_is_failed_with_its_reason(tmp_path):
  rundir.status_path(tmp_path).write_text('{"state": "runn')
  status = rundir.read_status(tmp_path)
  assert status["state"] == rundir.FAILED and "status.json" in status["reason"]
  rundir.status_path(tmp_path).write_text('{"state": "sleeping"}')
  assert rundir.read_status(tmp_path)["state"] == rundir.FAILED


def test_pretraining_takes_the_base_lock(tiny_run, tmp_path, capsys):
  workdir = copy_run(tiny_run, tmp_path / "w")
  shutil.rmtree(rundir.base_dir(workdir))
  with locks.held(workdir, locks.BASE_LOCK):
    code = main(["pretrain", "--workdir", str(workdir), "--gin_file", "models/tiny.gin", "--probes", "0",
                 "--gin_param", "SFTConfig.steps = 2", "--gin_param", "SFTConfig.warmup_steps = 0"])
  assert code == 75
  assert "another process" in capsys.readouterr().err
  assert not rundir.status_path(rundir.base_dir(workdir)).exists()


def test_train_rejected_before_training_leaves_no_cell_state(tiny_run, tmp_path, capsys):
  workdir = copy_run(tiny_run, tmp_path / "w")
  shutil.rmtree(rundir.base_dir(workdir))  # no base: bad input, not a failed cell
  code = main(["train", "--workdir", str(workdir), "--cell", "c", "--gin_param", "TRAIN_STEPS = 20", "--gin_param",
               "DOSE = 0.1", "--gin_param", "SEED = 0"])
  assert code == 2
  assert "no finished base model" in capsys.readouterr().err
  assert not rundir.cell_dir(workdir, "c").exists()
  assert rundir.list_cells(workdir) == []


def test_unsafe_names_never_become_paths():
  for name in ("../x", "/etc", "a/b", "..", ".hidden", "", "a" * 200, "x\x00y"):
    with pytest.raises(ValueError, match="--name"):
      rundir.import_dir("/w", name)
  assert rundir.cell_dir("/w", "without-health+science.s0") == Path("/w/cells/without-health+science.s0")


def test_read_jsonl_skips_torn_and_foreign_lines(tmp_path):
  path = tmp_path / "log.jsonl"
  path.write_text('{"step": 1}\n[1, 2]\n\n{"step": 2}\n{"step": 3, "x"')
  assert rundir.read_jsonl(path) == [{"step": 1}, {"step": 2}]
  rundir.rewrite_jsonl(path, lambda row: row["step"] < 2)
  assert path.read_text() == '{"step": 1}\n'


def test_a_directory_is_built_completely_or_not_at_all(tmp_path):
  target = tmp_path / "analysis"
  rundir.build_directory(target, lambda d: (d / "a.txt").write_text("one"))

  def half(staging: Path):
    (staging / "a.txt").write_text("two")
    raise OSError(28, "No space left on device")

  with pytest.raises(OSError):
    rundir.build_directory(target, half)
  assert (target / "a.txt").read_text() == "one"
  assert [p.name for p in tmp_path.iterdir()] == ["analysis"]


def test_no_run_directory_path_or_status_string_outside_rundir():
  """Every path literal of the run directory and every status string lives in xgen/rundir/."""
  import re
  root = Path(__file__).resolve().parent.parent / "xgen"
  names = ["world", "base", "cells", "attacks", "eval", "analysis", "imports", "logs", "tfds", "damaged",
           "tokenizer.model", "manifest.json", "personas.json", "status.json", "metrics.jsonl", "cell.json",
           "samples.jsonl", "history.jsonl", "config.gin", "study.gin", "study.json", "behaviour.json",
           "checkpoints", "tensorboard", ".locks", "pending", "running", "done", "failed", "diverged"]
  # a quoted name, unless it is a JSON key ("cells": ...) or a keyword value (desc="eval")
  literal = re.compile(r"""(?<![\w.=])["'](%s)["'](?!\s*:)""" % "|".join(re.escape(n) for n in names))
  path_join = re.compile(r"""/\s*["'](%s)""" % "|".join(re.escape(n) for n in names))
  offenders = []
  for path in sorted(root.rglob("*.py")):
    if path.parent.name == "rundir":
      continue
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
      code = line.split("#")[0]
      if (literal.search(code) or path_join.search(code)) and "add_parser(" not in code:  # subcommand names
        offenders.append(f"{path.relative_to(root.parent)}:{lineno}: {line.strip()}")
  allowed = {  # the same words with other meanings: a world generator's source names and lexicon entries
      'rng = stream(config.seed, "eval", domain, family)',
      'scenarios += number_items(items, source="eval", domain=domain, category=family, split="test")',
  }
  offenders = [o for o in offenders if o.split(": ", 1)[1] not in allowed and "codas=" not in o
               and "SOURCES = " not in o and "GRADED_SOURCES" not in o]
  assert offenders == []


# --- failing writes: a read-only file system and a full disk, mid-run ------------------------------

NAMESPACE_SCRIPT = r"""
set -u
mount -t tmpfs -o size={size} tmpfs "$REAL"
mount --bind "$REAL" "$MNT"
cp -r "$SOURCE/world" "$MNT/world"
cd "$REPO"
{python} -m xgen.cli pretrain --workdir "$MNT" --gin_file models/tiny.gin --probes 0 \
  --gin_param 'SFTConfig.steps = 3000' --gin_param 'SFTConfig.batch_size = 2' --gin_param 'SFTConfig.seq_len = 192' \
  --gin_param 'SFTConfig.warmup_steps = 1' --gin_param 'SFTConfig.log_every = 1' \
  --gin_param 'SFTConfig.checkpoint_every = {every}' --gin_param 'SFTConfig.keep_checkpoints = {keep}' \
  >"$OUT/stdout" 2>"$OUT/stderr" &
pid=$!
for _ in $(seq 1 1200); do [ -d "$MNT/base/checkpoints/{every}" ] && break; sleep 0.1; done
{action}
date +%s.%N >"$OUT/broken_at"
wait $pid; echo $? >"$OUT/rc"
date +%s.%N >"$OUT/ended_at"
cp "$MNT/base/status.json" "$OUT/status.json" 2>/dev/null || true
"""


def _in_namespace(tiny_run, tmp_path, *, size: str, every: int, keep: int, action: str) -> dict:
  import subprocess
  if shutil.which("unshare") is None:
    pytest.skip("needs unshare(1) to mount a private file system")
  probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
  if probe.returncode != 0:
    pytest.skip(f"this machine does not allow a private mount namespace: {probe.stderr.decode().strip()}")
  out, mnt, real = tmp_path / "out", tmp_path / "mnt", tmp_path / "real"
  for directory in (out, mnt, real):
    directory.mkdir()
  script = NAMESPACE_SCRIPT.format(size=size, every=every, keep=keep, action=action, python=sys.executable)
  env = {**__import__("os").environ, "MNT": str(mnt), "REAL": str(real), "SOURCE": str(tiny_run), "OUT": str(out),
         "REPO": str(Path(__file__).resolve().parent.parent)}
  subprocess.run(["unshare", "-m", "bash", "-c", script], env=env, timeout=600, check=True)
  result = {"rc": int((out / "rc").read_text()), "stderr": (out / "stderr").read_text(),
            "seconds": float((out / "ended_at").read_text()) - float((out / "broken_at").read_text())}
  if (out / "status.json").exists():
    result["status"] = json.loads((out / "status.json").read_text())
  return result


# The writer's open files keep a plain remount from going read-only, so the run directory's mount is
# detached and the same file system mounted again read-only in its place: every new write fails.
READ_ONLY = 'umount -l "$MNT" && mount --bind "$REAL" "$MNT" && mount -o remount,bind,ro "$MNT"'


def test_a_workdir_turning_read_only_mid_run_ends_the_run_in_seconds(tiny_run, tmp_path):
  result = _in_namespace(tiny_run, tmp_path, size="256m", every=5, keep=2, action=READ_ONLY)
  lines = [line for line in result["stderr"].splitlines() if line.startswith("xgen pretrain")]
  assert result["rc"] == 1, result["stderr"][-2000:]
  assert len(lines) == 1 and "the run stopped at step" in lines[0], result["stderr"][-2000:]
  assert "/xgen/" not in result["stderr"]  # orbax's own threads may print theirs; none of xgen's raises past the line
  assert result["seconds"] < 30


def test_a_full_disk_mid_run_fails_the_run_with_its_reason(tiny_run, tmp_path):
  used = sum(p.stat().st_size for p in rundir.world_dir(tiny_run).rglob("*") if p.is_file())
  size = f"{(used >> 10) + 3072}k"  # the world and about 3 MB: checkpoints every step fill it in a few dozen
  result = _in_namespace(tiny_run, tmp_path, size=size, every=1, keep=1000, action="true")
  lines = [line for line in result["stderr"].splitlines() if line.startswith("xgen pretrain")]
  assert result["rc"] == 1, result["stderr"][-2000:]
  assert len(lines) == 1 and "No space left on device" in lines[0], result["stderr"][-2000:]
  # tensorstore's native write callbacks may still print "Event loop is closed" for orbax's abandoned save;
  # nothing of xgen's own raises past the one line
  assert "/xgen/" not in result["stderr"] and "OSError" not in result["stderr"].replace(lines[0], "")
  assert result["status"]["state"] == rundir.FAILED and "No space left" in result["status"]["reason"]
