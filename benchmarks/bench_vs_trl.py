"""Seconds per GRPO step: xgen's RL step against TRL's ``GRPOTrainer``, same shapes, same CPU.

One RL step, as each library does it in training: sample ``group_size`` completions of exactly
``completion_len`` tokens for each of ``prompts`` distinct prompts of ``prompt_len`` tokens
(temperature 1.0, no stop token), score them with the same cheap reward (the fraction of even
token ids, so reward time is negligible), turn the rewards into group-normalised advantages, and
take one AdamW update on the whole batch (one iteration, no gradient accumulation, no reference
model: beta = 0, token-mean "DAPO" loss aggregation on both sides). Everything is float32. Both
policies are randomly initialised from one shape, by default ``gin/models/small.gin`` (d_model 192,
4 layers, 4 heads, 2 KV heads, d_ff 512, tied embeddings, vocabulary 2048): on the xgen side the
``ModelConfig``, on the TRL side a ``transformers.LlamaConfig`` with the same numbers
(``LlamaForCausalLM``, a local word-level tokenizer). Nothing is downloaded.

xgen side: the step of ``xgen.rl.trainer.train_cell`` with one iteration and one mini-batch --
``xgen.models.sampler.generate`` on the 64 prompts (``stop_ids=()``), the ids to the host and into
``Episode`` objects, the reward on the ids, ``get_advantage("grpo")``, ``episode_rows``, then
``rl_train_step`` (``recomputed_old=False``) with ``make_optimizer``'s AdamW, ending in
``jax.block_until_ready``. TRL side: ``GRPOTrainer.train`` with ``use_cpu=True``; a
``TrainerCallback`` times each optimizer step from ``on_step_begin`` to ``on_step_end`` (generation,
scoring, forward, backward, clipping and ``optimizer.step``; logging falls outside). TRL stops a
completion at EOS, so ``min_new_tokens`` is set to the completion length (EOS is masked until then)
and the actual completion lengths are reported. TRL defaults that would change the work done are
set to match xgen: ``gradient_checkpointing=False`` (TRL turns it on by default), ``bf16=False``;
the optimizer is TRL's default AdamW (``adamw_torch_fused`` with this torch), with xgen's betas,
clipping at global norm 1 and no weight decay.

Torch runs ``torch.set_num_threads(os.cpu_count())`` (``--torch-threads``) with
``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets it: torch's OpenMP threads spin-wait at
every barrier by default, and on a machine whose cores are also busy with other work that made
``generate`` here about 20x slower (32 s instead of 1.6 s for the default batch), which would
measure the scheduler rather than TRL. On an idle machine the policy makes little difference.

Each side runs in its own child process, one after the other (so neither library's thread pools
or allocator disturb the other), discards ``--warmup`` steps (compilation on the xgen side) and
averages the next ``--steps``. Each child prints a JSON line with its seconds per step and the split
into sampling (``sample_s``: generation to host token lists), scoring (``score_s``: rewards,
advantages and the rest of the rollout bookkeeping) and the update (``update_s``: the rest). The
last line of the parent is machine-readable:

  bench_vs_trl: speedup=... xgen_s_per_step=... trl_s_per_step=... sample_speedup=... update_speedup=... ...

where ``speedup`` = TRL seconds per step / xgen seconds per step (> 1: xgen is faster).

  python benchmarks/bench_vs_trl.py [--steps 5] [--warmup 2] [--prompts 16] [--group-size 4]
                                    [--prompt-len 32] [--completion-len 48] [--model-gin models/small.gin]

Needs the ``hf`` extra (torch, transformers, trl). Differences that remain between the two sides are
implementation choices each library makes (and so part of what is measured): xgen's update runs
over rows padded to a multiple of 32 tokens (96 for 32 + 48) and computes logits at every position,
while TRL's forward covers exactly prompt + completion (80) and the LM head only the completion
positions; TRL decodes completions to text for its reward functions, xgen decodes nothing here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAD_ID, EOS_ID = 0, 1  # the TRL tokenizer's special ids; prompts use ids from FIRST_ID up
FIRST_ID = 2


def even_fraction(ids) -> float:
  """The reward on both sides: the fraction of completion token ids that are even."""
  ids = list(ids)
  return sum(1 for i in ids if i % 2 == 0) / max(len(ids), 1)


def make_prompts(count: int, length: int, vocab_size: int, seed: int) -> list[list[int]]:
  import numpy as np
  rng = np.random.default_rng(seed)
  return rng.integers(FIRST_ID, vocab_size, size=(count, length)).tolist()


def summarise(step_s: list[float], sample_s: list[float], score_s: list[float]) -> dict:
  """Means over the timed steps; update = step - sample - score."""
  step, sample, score = statistics.mean(step_s), statistics.mean(sample_s), statistics.mean(score_s)
  return {"s_per_step": step, "median_s_per_step": statistics.median(step_s), "sample_s": sample,
          "score_s": score, "update_s": step - sample - score, "step_s": [round(s, 4) for s in step_s]}


def model_shape(args) -> dict:
  """The policy's ``ModelConfig`` fields: from ``--model-json`` (the parent passes what the xgen side
  built, so that the TRL process never imports JAX), else from ``--model-gin``."""
  if args.model_json:
    return json.loads(args.model_json)
  import dataclasses
  sys.path.insert(0, ROOT)
  from xgen.models.config import model_config_from_gin
  return dataclasses.asdict(model_config_from_gin(args.model_gin, vocab_size=args.vocab_size))


# ----------------------------------------------------------------------------------------------
# xgen.


def run_xgen(args) -> dict:
  import dataclasses
  sys.path.insert(0, ROOT)
  import jax
  import numpy as np

  from xgen.models.config import model_config_from_gin
  from xgen.models.sampler import SamplingConfig, generate
  from xgen.models.transformer import build_model
  from xgen.rl import algorithms
  from xgen.rl.rollout import Episode
  from xgen.rl.step import device_batch, episode_rows, rl_train_step
  from xgen.train.step import make_optimizer

  config = model_config_from_gin(args.model_gin, vocab_size=args.vocab_size)
  policy = build_model(config, args.seed)
  optimizer = make_optimizer(policy, learning_rate=args.learning_rate, weight_decay=0.0, clip_norm=1.0)
  sampling = SamplingConfig(max_new_tokens=args.completion_len, temperature=1.0, stop_ids=())
  estimator = algorithms.get_advantage("grpo")
  loss = algorithms.LossConfig()
  base_prompts = make_prompts(args.prompts * (args.warmup + args.steps), args.prompt_len, args.vocab_size,
                              args.seed)
  key = jax.random.PRNGKey(args.seed)

  step_s, sample_s, score_s, lengths = [], [], [], []
  for step in range(args.warmup + args.steps):
    distinct = base_prompts[step * args.prompts:(step + 1) * args.prompts]
    prompts = [p for p in distinct for _ in range(args.group_size)]
    started = time.perf_counter()
    out = generate(policy, prompts, sampling, jax.random.fold_in(key, step), pad_id=PAD_ID)
    tokens, logprobs, lens = (np.asarray(x) for x in jax.device_get((out.tokens, out.logprobs, out.lengths)))
    episodes = []
    for row, prompt in enumerate(prompts):
      n = int(lens[row])
      episodes.append(Episode(None, (tuple(prompt),), (tuple(tokens[row, :n].tolist()),),
                              (tuple(logprobs[row, :n].tolist()),), ("",), True))
    sampled = time.perf_counter()
    rewards = np.array([even_fraction(e.completions[0]) for e in episodes], np.float32)
    advantages, _ = estimator(jax.numpy.asarray(rewards.reshape(args.prompts, args.group_size)), scale_std=True)
    advantages = np.asarray(advantages).reshape(-1)
    scored = time.perf_counter()
    batch = device_batch(episode_rows(episodes, advantages))
    metrics = rl_train_step(policy, optimizer, batch, loss_config=loss, temperature=1.0, recomputed_old=False)
    metrics = jax.block_until_ready(metrics)
    assert all(np.isfinite(float(v)) for k, v in metrics.items() if not k.startswith("row/"))
    finished = time.perf_counter()
    lengths.extend(int(n) for n in lens)
    if step >= args.warmup:
      step_s.append(finished - started)
      sample_s.append(sampled - started)
      score_s.append(scored - sampled)
  return {"side": "xgen", **summarise(step_s, sample_s, score_s), "completion_len_mean": float(np.mean(lengths)),
          "completion_len_min": int(min(lengths)), "completion_len_max": int(max(lengths)),
          "update_row_length": int(batch.tokens.shape[1]), "params": config.num_params(),
          "model": dataclasses.asdict(config),
          "jax": jax.__version__, "devices": str(jax.devices())}


# ----------------------------------------------------------------------------------------------
# TRL.


def run_trl(args) -> dict:
  import tempfile

  # Read by OpenMP when torch loads it: see the module docstring.
  os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
  import datasets
  import tokenizers
  import torch
  import transformers
  import trl

  torch.set_num_threads(args.torch_threads or os.cpu_count())
  torch.manual_seed(args.seed)
  config = argparse.Namespace(**model_shape(args))

  vocab = {"<pad>": PAD_ID, "<eos>": EOS_ID, **{f"t{i}": i for i in range(FIRST_ID, args.vocab_size)}}
  backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<pad>"))
  backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
  tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>",
                                                   unk_token="<pad>")

  llama = transformers.LlamaConfig(
      vocab_size=args.vocab_size, hidden_size=config.d_model, num_hidden_layers=config.n_layers,
      num_attention_heads=config.n_heads, num_key_value_heads=config.n_kv_heads, head_dim=config.head_dim,
      intermediate_size=config.d_ff, tie_word_embeddings=config.tie_embeddings,
      max_position_embeddings=config.max_seq_len, rms_norm_eps=config.norm_eps,
      rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
      attention_bias=config.attention_bias, pad_token_id=PAD_ID, eos_token_id=EOS_ID, bos_token_id=None)
  model = transformers.LlamaForCausalLM(llama).to(torch.float32)
  params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())

  total = args.warmup + args.steps
  prompt_ids = make_prompts(args.prompts * total, args.prompt_len, args.vocab_size, args.seed)
  dataset = datasets.Dataset.from_dict({"prompt": [" ".join(f"t{i}" for i in p) for p in prompt_ids]})

  def reward(prompts, completions, completion_ids, **kwargs):
    del prompts, completions, kwargs
    return [even_fraction(ids) for ids in completion_ids]

  timings = {"step": [], "generate": [], "score": [], "lengths": []}

  class Timed(trl.GRPOTrainer):
    """Times generation and the whole rollout (generation, rewards, advantages) of each step."""

    def _generate_single_turn(self, *a, **kw):
      start = time.perf_counter()
      completion_ids, logprobs = super()._generate_single_turn(*a, **kw)
      timings["generate"].append(time.perf_counter() - start)
      timings["lengths"].extend(len(ids) for ids in completion_ids)
      return completion_ids, logprobs

    def _generate_and_score_completions(self, *a, **kw):
      start = time.perf_counter()
      out = super()._generate_and_score_completions(*a, **kw)
      timings["score"].append(time.perf_counter() - start)
      return out

  class StepTimer(transformers.TrainerCallback):

    def on_step_begin(self, args, state, control, **kwargs):
      self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
      timings["step"].append(time.perf_counter() - self.start)

  with tempfile.TemporaryDirectory(prefix="bench_vs_trl_") as output_dir:
    grpo = trl.GRPOConfig(
        output_dir=output_dir, use_cpu=True, report_to="none", seed=args.seed, max_steps=total,
        per_device_train_batch_size=args.prompts * args.group_size, gradient_accumulation_steps=1,
        num_generations=args.group_size, num_iterations=1, beta=0.0, loss_type="dapo", scale_rewards="group",
        max_completion_length=args.completion_len, temperature=1.0, top_p=1.0, top_k=0,
        generation_kwargs={"min_new_tokens": args.completion_len},
        learning_rate=args.learning_rate, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
        adam_beta1=0.9, adam_beta2=0.95, max_grad_norm=1.0,
        bf16=False, fp16=False, gradient_checkpointing=False,
        logging_steps=total, save_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
    trainer = Timed(model=model, reward_funcs=reward, args=grpo, train_dataset=dataset, processing_class=tokenizer,
                    callbacks=[StepTimer()])
    trainer.train()

  if len(timings["step"]) != total or len(timings["generate"]) != total:
    raise RuntimeError(f"expected {total} steps with one generation each, got {len(timings['step'])} steps and "
                       f"{len(timings['generate'])} generations")
  step_s = timings["step"][args.warmup:]
  sample_s = timings["generate"][args.warmup:]
  score_s = [r - g for r, g in zip(timings["score"][args.warmup:], sample_s)]
  lengths = timings["lengths"]
  return {"side": "trl", **summarise(step_s, sample_s, score_s),
          "completion_len_mean": sum(lengths) / len(lengths), "completion_len_min": min(lengths),
          "completion_len_max": max(lengths), "params": params, "torch_threads": torch.get_num_threads(),
          "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
          "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
          "optim": grpo.optim}


# ----------------------------------------------------------------------------------------------
# Parent.


def run_side(side: str, args, model: dict | None = None) -> dict:
  """Runs one side in a child process; echoes its output and returns its JSON line."""
  command = [sys.executable, os.path.abspath(__file__), "--side", side, "--steps", str(args.steps),
             "--warmup", str(args.warmup), "--prompts", str(args.prompts), "--group-size", str(args.group_size),
             "--prompt-len", str(args.prompt_len), "--completion-len", str(args.completion_len),
             "--model-gin", args.model_gin, "--vocab-size", str(args.vocab_size),
             "--learning-rate", str(args.learning_rate), "--seed", str(args.seed),
             "--torch-threads", str(args.torch_threads)]
  if model is not None:
    command += ["--model-json", json.dumps(model)]
  env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
         "TOKENIZERS_PARALLELISM": "false", "WANDB_DISABLED": "true"}
  print(f"running the {side} side...", flush=True)
  started = time.perf_counter()
  done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT, check=False)
  for line in done.stdout.splitlines():
    print(f"  [{side}] {line}", flush=True)
  if done.returncode:
    raise SystemExit(f"bench_vs_trl: the {side} side failed (exit {done.returncode})")
  result = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
  print(f"{side}: {result['s_per_step']:.3f} s/step (sample {result['sample_s']:.3f}, score {result['score_s']:.3f}, "
        f"update {result['update_s']:.3f}), completions {result['completion_len_min']}..{result['completion_len_max']} "
        f"tokens; child wall {time.perf_counter() - started:.0f} s", flush=True)
  return result


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--side", choices=("xgen", "trl"), help="run one side only and print its JSON line")
  parser.add_argument("--steps", type=int, default=5, help="timed steps per side")
  parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation)")
  parser.add_argument("--prompts", type=int, default=16, help="distinct prompts per step")
  parser.add_argument("--group-size", type=int, default=4, help="completions per prompt")
  parser.add_argument("--prompt-len", type=int, default=32)
  parser.add_argument("--completion-len", type=int, default=48)
  parser.add_argument("--model-gin", default="models/small.gin", help="the policy's shape, for both sides")
  parser.add_argument("--model-json", default="", help="ModelConfig fields as JSON (set by the parent for --side trl)")
  parser.add_argument("--vocab-size", type=int, default=2048)
  parser.add_argument("--learning-rate", type=float, default=3e-4)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--torch-threads", type=int, default=0, help="TRL side's torch threads (0: all CPUs)")
  args = parser.parse_args()
  if args.side:
    result = run_xgen(args) if args.side == "xgen" else run_trl(args)
    print(json.dumps(result), flush=True)
    return

  print(f"batch {args.prompts} prompts x {args.group_size} = {args.prompts * args.group_size} completions of "
        f"{args.completion_len} tokens after {args.prompt_len}-token prompts; {args.model_gin}; "
        f"{args.warmup} warm-up + {args.steps} timed steps per side; {os.cpu_count()} CPUs", flush=True)
  xgen = run_side("xgen", args)
  trl = run_side("trl", args, model=xgen["model"])
  ratio = lambda name: trl[name] / xgen[name] if xgen[name] > 0 else float("nan")  # noqa: E731
  print(f"bench_vs_trl: speedup={ratio('s_per_step'):.2f} xgen_s_per_step={xgen['s_per_step']:.3f} "
        f"trl_s_per_step={trl['s_per_step']:.3f} sample_speedup={ratio('sample_s'):.2f} "
        f"update_speedup={ratio('update_s'):.2f} xgen_sample_s={xgen['sample_s']:.3f} "
        f"xgen_score_s={xgen['score_s']:.3f} xgen_update_s={xgen['update_s']:.3f} trl_sample_s={trl['sample_s']:.3f} "
        f"trl_score_s={trl['score_s']:.3f} trl_update_s={trl['update_s']:.3f} "
        f"trl_completion_len={trl['completion_len_mean']:.1f} xgen_completion_len={xgen['completion_len_mean']:.1f}")


if __name__ == "__main__":
  main()
