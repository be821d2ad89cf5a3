"""Two JAX processes on localhost (``jax.distributed``, gloo collectives, one CPU device each, a
data=2 mesh) take the same train steps as one process with two simulated devices.

Children run ``tests/distributed_worker.py``; each is bounded by a timeout and killed on failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT_S = 120
FAST_COMPILE = "--xla_backend_optimization_level=0"


def free_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1]


def child_env(devices: int) -> dict[str, str]:
  return dict(os.environ, JAX_PLATFORMS="cpu",
              XLA_FLAGS=f"--xla_force_host_platform_device_count={devices} {FAST_COMPILE}")


def run_processes(commands: list[list[str]], envs: list[dict[str, str]], cwd: Path,
                  timeout: float = TIMEOUT_S) -> list[str]:
  """Start all, wait for all within ``timeout`` seconds, kill every child still running on any failure."""
  logs = [cwd / f"child{index}.log" for index in range(len(commands))]
  children = []
  try:
    for command, env, log in zip(commands, envs, logs):
      with open(log, "w") as handle:
        children.append(subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT))
    for child in children:
      child.wait(timeout=timeout)
  finally:
    for child in children:
      if child.poll() is None:
        child.kill()
        child.wait()
  outputs = [log.read_text() for log in logs]
  for child, output in zip(children, outputs):
    assert child.returncode == 0, output[-4000:]
  return outputs


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
  multi = tmp_path_factory.mktemp("two_processes")
  single = tmp_path_factory.mktemp("one_process")
  coordinator = f"127.0.0.1:{free_port()}"
  base = [sys.executable, str(WORKER), "--run", "2,1,1"]
  commands = [base + ["--out", str(multi), "--coordinator", coordinator, "--num-processes", "2",
                      "--process-id", str(index), "--process-local"] for index in range(2)]
  commands.append(base + ["--out", str(single)])
  run_processes(commands, [child_env(1), child_env(1), child_env(2)], multi)
  return dict(np.load(multi / "2_1_1.npz")), dict(np.load(single / "2_1_1.npz"))


def test_two_processes_match_two_local_devices(results):
  distributed, local = results
  np.testing.assert_allclose(distributed["losses"], local["losses"], rtol=1e-5)
  keys = [key for key in local if key.startswith("param/")]
  assert keys and keys == [key for key in distributed if key.startswith("param/")]
  for key in keys:
    np.testing.assert_allclose(distributed[key], local[key], rtol=1e-5, atol=1e-5, err_msg=key)


def test_each_process_holds_half_the_batch(results):
  distributed, local = results
  for run in results:
    assert tuple(run["batch_shape"]) == (8, 33) and tuple(run["batch_shard_shape"]) == (4, 33)
  # data=2 shards rows only; parameters stay whole on each device in both runs.
  assert str(distributed["spec/layers/0/mlp/up_proj/kernel"]) == "P()"
  assert tuple(distributed["shard/embed/embedding"]) == tuple(distributed["param/embed/embedding"].shape)
  assert str(local["spec/layers/0/mlp/up_proj/kernel"]) == "P()"
