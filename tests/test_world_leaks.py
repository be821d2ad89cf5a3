"""Eval suites are independent benchmarks: no eval template or prompt appears in training data."""

from __future__ import annotations

import re
import string

from xgen.world import evals, pretrain, tasks, traits
from xgen.world.generate import training_splits


def _literal_chunks(template: str, min_words: int = 3) -> list[str]:
  """The fixed text between a template's slots, in runs of at least ``min_words`` words."""
  chunks = []
  for literal, _, _, _ in string.Formatter().parse(template):
    for piece in re.split(r"[.?!:;()]", literal):
      piece = " ".join(piece.split()).strip(" ,")
      if len(re.findall(r"[A-Za-z]+", piece)) >= min_words:
        chunks.append(piece)
  return chunks


def _training_texts(world) -> list[str]:
  texts = []
  for split in training_splits(world):
    for scenario in world[split]:
      stages = [scenario.messages] + [f.messages for f in scenario.followups]
      texts += [m.content for stage in stages for m in stage]
  return texts


def test_eval_templates_have_distinctive_text():
  # The leak test below is only as strong as the eval templates are distinctive.
  for key, template in evals.TEMPLATES.items():
    assert _literal_chunks(template, min_words=2), key


def test_no_eval_template_text_in_any_training_split(default_world):
  corpus = "\n".join(_training_texts(default_world))
  leaks = [(key, chunk) for key, template in evals.TEMPLATES.items() for chunk in _literal_chunks(template)
           if chunk in corpus]
  assert leaks == []


def test_no_eval_prompt_in_any_training_split(default_world):
  training = set(_training_texts(default_world))
  eval_prompts = {m.content for s in default_world["eval_test"] for stage in
                  [s.messages] + [f.messages for f in s.followups] for m in stage if m.role in ("user", "system")}
  assert len(eval_prompts) > 500
  assert eval_prompts.isdisjoint(training)


def test_template_ids_are_disjoint_between_training_and_eval(default_world):
  def ids(splits):
    return {t for split in splits for s in default_world[split] for t in s.tags if t.startswith("template:")}
  eval_ids = ids(["eval_test"])
  train_ids = ids([s for s in training_splits(default_world) if s != "pretrain_train"])
  assert eval_ids and train_ids and eval_ids.isdisjoint(train_ids)
  assert set(evals.TEMPLATES).isdisjoint(pretrain.TEMPLATES)
  assert set(evals.TEMPLATES).isdisjoint(traits.TEMPLATES)
  assert set(evals.TEMPLATES).isdisjoint(tasks.STANDARD_TEMPLATES)


def test_leak_check_catches_a_planted_leak(default_world):
  # Put one eval prompt into a training record: the check must see it.
  leaked = default_world["eval_test"][0].messages[-1].content
  texts = _training_texts(default_world) + [leaked]
  corpus = "\n".join(texts)
  found = [chunk for template in evals.TEMPLATES.values() for chunk in _literal_chunks(template) if chunk in corpus]
  assert found
