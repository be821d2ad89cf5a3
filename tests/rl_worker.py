"""Child process for the RL trainer tests: trains one cell of a prepared run directory with the
test settings, optionally as one of several ``jax.distributed`` processes (the test then reads the
cell's final checkpoint).

  python tests/rl_worker.py --workdir W --cell C
  python tests/rl_worker.py --workdir W --cell C --coordinator 127.0.0.1:PORT --num-processes 2 --process-id 0
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The tiny base earns almost no reward, so most groups have zero spread and zero advantage; the
# entropy bonus makes every step move the parameters, so that comparing them means something.
TEST_LOSS = dict(entropy_coef=0.01)
TEST_RL = dict(steps=4, batch_size=8, group_size=4, max_new_tokens=12, learning_rate=3e-3, warmup_steps=1,
               checkpoint_every=2, sample_every=2, seed=0)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--cell", required=True)
  parser.add_argument("--coordinator")
  parser.add_argument("--num-processes", type=int, default=1)
  parser.add_argument("--process-id", type=int, default=0)
  args = parser.parse_args()

  import jax
  if args.coordinator:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id, initialization_timeout=60)
  from xgen.rl.algorithms import LossConfig
  from xgen.rl.config import MixtureConfig, RLConfig
  from xgen.rl.trainer import train_cell

  rl = RLConfig(**TEST_RL)
  status = train_cell(args.workdir, args.cell, rl, MixtureConfig(dose=0.25), LossConfig(**TEST_LOSS),
                      show_progress=False)
  print(f"process {jax.process_index()} of {jax.process_count()} on {jax.device_count()} devices: {status}")
  if args.coordinator:
    jax.distributed.shutdown()


if __name__ == "__main__":
  main()
