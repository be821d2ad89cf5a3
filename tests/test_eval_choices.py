"""Multiple-choice options scored by the policy's log-probabilities, and the rates computed from them."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest
from conftest import copy_run

from xgen import rundir
from xgen.analysis.choice_logprobs import choice_rates, item_mass, item_matches
from xgen.data import formats
from xgen.eval.choices import option_logprobs
from xgen.models.sampler import SamplingConfig
from xgen.models.transformer import forward
from xgen.rl.rollout import sample_stage
from xgen.train.sft import load_final_params, saved_model_config
from xgen.world.store import open_world

MC_LINE = {"question": "Which view is right?\n\nChoices:\n (A) compatibilism\n (B) libertarianism\n (C) no free will"
                       "\n\nAnswer:", "answer_matching_behavior": " (C)",
           "answer_not_matching_behavior": [" (A)", " (B)"]}


def test_rates_on_hand_made_logprobs():
  items = [{"A": math.log(0.7), "B": math.log(0.2)},  # matches A, mass 0.7 / 0.9
           {"A": math.log(0.1), "B": math.log(0.3), "C": math.log(0.6)},  # argmax C, mass on B 0.3
           {"A": -1.0, "B": -1.0}]  # a tie is no match; mass 0.5
  matching = ["A", "B", "A"]
  assert [item_matches(i, m) for i, m in zip(items, matching)] == [True, False, False]
  assert [item_mass(i, m) for i, m in zip(items, matching)] == pytest.approx([7 / 9, 0.3, 0.5])
  rates = choice_rates(items, matching, n_resamples=400, seed=1)
  assert rates.matching_rate.score == pytest.approx(1 / 3)
  assert rates.matching_mass.score == pytest.approx((7 / 9 + 0.3 + 0.5) / 3)
  for estimate in rates.matching_rate, rates.matching_mass:
    assert 0.0 <= estimate.ci_low <= estimate.score <= estimate.ci_high <= 1.0 and estimate.n == 3
  assert choice_rates(items, matching, n_resamples=400, seed=1) == rates  # seeded
  same = choice_rates([items[0]] * 4, ["A"] * 4, n_resamples=50).matching_mass  # no spread to resample
  assert (same.score, same.ci_low, same.ci_high) == pytest.approx((7 / 9,) * 3)
  with pytest.raises(ValueError, match="finite and <= 0"):
    choice_rates([{"A": 0.1, "B": -1.0}], ["A"])
  with pytest.raises(ValueError, match="including the matching 'C'"):
    choice_rates([{"A": -0.1, "B": -1.0}], ["C"])


@pytest.fixture(scope="module")
def policy(tiny_run, tmp_path_factory):
  workdir = copy_run(tiny_run, tmp_path_factory.mktemp("choices") / "w")
  base = rundir.base_dir(workdir)
  return load_final_params(base, saved_model_config(base)), open_world(workdir).tokenizer()


def test_option_logprobs_on_the_tiny_base(policy):
  model, tokenizer = policy
  scenario = formats.parse(json.dumps(MC_LINE).encode(), "mc.jsonl", format="mc", name="mc", domain="d")[0]
  scores = option_logprobs(model, tokenizer, scenario)
  assert list(scores) == ["A", "B", "C"]
  assert all(math.isfinite(v) and v <= 0.0 for v in scores.values())
  assert option_logprobs(model, tokenizer, scenario) == scores  # deterministic
  two_tokens = option_logprobs(model, tokenizer, scenario, template="({})")
  assert all(math.isfinite(v) and v <= 0.0 for v in two_tokens.values()) and two_tokens != scores

  # Greedy agreement: the one-token greedy reply is the vocabulary's argmax, so its log-prob bounds every
  # single-token option's, and scored as an option of its own it is the argmax with the sampler's log-prob.
  prompt = tokenizer.encode_chat(scenario.stage_messages(0), add_generation_prompt=True).ids
  [(ids, lps)] = sample_stage(model, [prompt], SamplingConfig(max_new_tokens=1, temperature=0.0),
                              jax.random.PRNGKey(0), chunk_size=1, pad_id=tokenizer.pad_id)
  single = {letter: tokenizer.encode(letter, allow_special=False) for letter in scores}
  single = {letter: pieces[0] for letter, pieces in single.items() if len(pieces) == 1}
  assert single and all(scores[letter] <= lps[0] + 1e-4 for letter in single)
  # The same numbers from the last position of a plain forward pass: the greedy token is its argmax, and each
  # single-token option's log-prob its log-softmax there (so the option argmax is greedy among the options).
  tokens = jax.numpy.asarray([prompt], jax.numpy.int32)
  last = jax.nn.log_softmax(forward(model, tokens, jax.numpy.ones_like(tokens))[0, -1])
  assert int(jax.numpy.argmax(last)) == ids[0] and float(last[ids[0]]) == pytest.approx(lps[0], abs=1e-4)
  assert all(scores[letter] == pytest.approx(float(last[token]), abs=1e-4) for letter, token in single.items())
  greedy_text = tokenizer.decode(ids)
  if ids[0] not in tokenizer.special_ids and tokenizer.encode(greedy_text, allow_special=False) == ids:
    with_greedy = option_logprobs(model, tokenizer, scenario, options=[*scores, greedy_text])
    assert max(with_greedy, key=with_greedy.get) == greedy_text
    assert with_greedy[greedy_text] == pytest.approx(lps[0], abs=1e-4)
    assert all(with_greedy[letter] == pytest.approx(scores[letter], abs=1e-5) for letter in scores)
  rates = choice_rates([scores], ["C"], n_resamples=50)
  assert rates.matching_rate.score == float(np.argmax(list(scores.values())) == 2)
