"""Personas at eval time: a checkpoint's items asked under a persona prompt are written beside its plain
rows (``eval/<checkpoint>/persona/<name>/``), only for the families the persona evaluates, graded as the
plain item, resumed like plain evaluation, read back by ``load_variants`` and never mixed into the plain
scores."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xgen import rundir
from xgen.analysis.load import load_scores, load_variants
from xgen.eval.crosseval import EvalConfig, checkpoints_to_evaluate, cross_evaluate, eval_suites
from xgen.eval.protocols import evaluate_personas, pending_pairs
from xgen.graders.rubric import grade
from xgen.rl.rollout import run_episodes
from xgen.train.sft import saved_model_config
from xgen.world.personas import read_personas, with_persona

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run, run_cli  # noqa: E402
from test_eval_crosseval import _rows  # noqa: E402

CONFIG = EvalConfig(max_new_tokens=8, chunk_size=64)


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory) -> Path:
  workdir = copy_run(tiny_run, tmp_path_factory.mktemp("personas") / "w")
  model = saved_model_config(rundir.base_dir(workdir))
  cross_evaluate(workdir, model, CONFIG)
  personas = read_personas(workdir)
  refs = checkpoints_to_evaluate(workdir)
  evaluate_personas(workdir, model, CONFIG, refs, [personas["blunt-medic"], personas["careful"]])
  return workdir


def test_a_persona_is_evaluated_on_its_families_and_capability_only(evaluated):
  personas = read_personas(evaluated)
  suites = eval_suites(evaluated)
  for name in ("blunt-medic", "careful"):
    directory = rundir.persona_eval_dir(evaluated, "base", name)
    written = sorted(p.name.removesuffix(".jsonl.gz") for p in directory.glob("*.jsonl.gz"))
    expected = sorted(s for s in suites if personas[name].evaluates(s.split(".")[0]))
    assert written == expected
    assert "capability.health" in written
  medic = [p.name for p in rundir.persona_eval_dir(evaluated, "base", "blunt-medic").glob("*.jsonl.gz")]
  assert not [n for n in medic if n.split(".")[0] not in ("healthbench", "hallucination", "capability")]


def test_persona_rows_name_the_persona_and_are_graded_as_the_plain_item(evaluated):
  scenarios = {s.id: s for items in eval_suites(evaluated).values() for s in items}
  rows = _rows(rundir.variant_eval_file(evaluated, "base", "healthbench.health", persona="blunt-medic"))
  assert rows and {r["persona"] for r in rows} == {"blunt-medic"}
  for row in rows:
    assert row["score"] == grade(scenarios[row["item_id"]], row["responses"]).score
  plain = _rows(rundir.eval_file(evaluated, "base", "healthbench.health"))
  assert {r["persona"] for r in plain} == {None}
  assert sorted(r["item_id"] for r in rows) == sorted(r["item_id"] for r in plain)


def test_the_model_sees_the_persona_prompt(evaluated):
  from xgen.eval.crosseval import load_checkpoint
  from xgen.models.sampler import SamplingConfig
  from xgen.world.store import open_world
  import jax
  persona = read_personas(evaluated)["blunt-medic"]
  item = eval_suites(evaluated)["healthbench.health"][0]
  tokenizer = open_world(evaluated).tokenizer()
  model = load_checkpoint(checkpoints_to_evaluate(evaluated)[0], saved_model_config(rundir.base_dir(evaluated)))
  [episode] = run_episodes(model, tokenizer, [with_persona(item, persona)], SamplingConfig(max_new_tokens=2),
                           jax.random.PRNGKey(0))
  prompt = tokenizer.decode(episode.prompts[0])
  assert persona.text in prompt and prompt.index(persona.text) < prompt.index(item.messages[-1].content[:20])


def test_persona_evaluation_resumes_and_leaves_plain_scores_alone(evaluated, tmp_path):
  model = saved_model_config(rundir.base_dir(evaluated))
  personas = read_personas(evaluated)
  refs = checkpoints_to_evaluate(evaluated)
  assert pending_pairs(evaluated, refs, personas["blunt-medic"]) == 0
  assert pending_pairs(evaluated, refs, personas["crowd-pleaser"]) > 0
  [summary] = evaluate_personas(evaluated, model, CONFIG, refs, [personas["careful"]])
  assert summary.evaluated == 0
  variants = load_variants(evaluated)
  assert sorted(variants.personas) == ["blunt-medic", "careful"]
  medic = variants.personas["blunt-medic"]["pre-rl"][0]
  assert set(medic) == {s for s in eval_suites(evaluated) if personas["blunt-medic"].evaluates(s.split(".")[0])}
  scores, _ = load_scores(evaluated)
  assert set(scores["pre-rl"][0]) == set(eval_suites(evaluated))  # every plain suite, no persona row among them
  plain = _rows(rundir.eval_file(evaluated, "base", "capability.law"))
  assert scores["pre-rl"][0]["capability.law"] == {str(r["item_id"]): r["score"] for r in plain}


def test_a_row_in_the_wrong_persona_directory_is_named(evaluated, tmp_path):
  import shutil
  workdir = tmp_path / "w"
  shutil.copytree(evaluated / "eval", workdir / "eval")
  source = rundir.variant_eval_file(workdir, "base", "capability.law", persona="careful")
  target = rundir.variant_eval_file(workdir, "base", "capability.law", persona="blunt-medic")
  target.write_bytes(source.read_bytes())
  with pytest.raises(ValueError, match=r"capability\.law\.jsonl\.gz:1: row of persona 'careful'"):
    load_variants(workdir)


def test_xgen_eval_persona_flag(evaluated, tmp_path, capsys):
  code, out, err = run_cli(capsys, "eval", "--workdir", str(evaluated), "--persona", "no-such-persona")
  assert code == 2 and "--persona no-such-persona: not a persona of" in err and "crowd-pleaser" in err
  assert len(err.strip().splitlines()) == 1
  code, out, err = run_cli(capsys, "eval", "--workdir", str(evaluated), "--persona", "gut-feeling",
                           "--gin_param", "EvalConfig.max_new_tokens = 8")
  assert code == 0, err
  assert "under 1 personas" in out
  written = sorted(p.name for p in rundir.persona_eval_dir(evaluated, "base", "gut-feeling").glob("*.jsonl.gz"))
  assert written == ["capability.health.jsonl.gz", "capability.law.jsonl.gz", "fairness.health.jsonl.gz",
                     "fairness.law.jsonl.gz"]


def test_cross_evaluate_asks_every_item_under_the_persona(evaluated, tmp_path, monkeypatch):
  import shutil
  from xgen.eval import crosseval
  workdir = tmp_path / "w"
  shutil.copytree(evaluated, workdir)
  persona = read_personas(workdir)["gut-feeling"]
  seen = []
  real = crosseval.run_episodes
  monkeypatch.setattr(crosseval, "run_episodes", lambda model, tok, items, *a, **k: seen.extend(items) or
                      real(model, tok, items, *a, **k))
  for path in rundir.persona_eval_dir(workdir, "base", persona.name).glob("*.jsonl.gz"):
    path.unlink()
  evaluate_personas(workdir, saved_model_config(rundir.base_dir(workdir)), CONFIG, checkpoints_to_evaluate(workdir),
                    [persona])
  assert seen and all(s.messages[0].role == "system" and s.messages[0].content.startswith(persona.text) for s in seen)
