"""Imported eval suites: ``xgen eval --suites imports/N`` and ``StudyConfig.extra_suites`` evaluate an import's eval
records as suites ``<category>.<domain>`` beside the world's, resumed and skipped like them, read by the analysis;
an unknown import, a clashing suite name and a judge criterion with no judge are one-line errors."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest

from xgen import rundir
from xgen.cli import EXIT_BAD_INPUT, EXIT_OK
from xgen.data.schema import Criterion, Message, Scenario
from xgen.eval.crosseval import EvalConfig, cross_evaluate, eval_suites
from xgen.eval.suites import SuiteError
from xgen.graders.judge import judging
from xgen.train.sft import saved_model_config

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run, run_cli  # noqa: E402
from test_data_formats import MC_LINES, hb_examples, write_jsonl  # noqa: E402

FLAGS = ("--gin_param", "EvalConfig.max_new_tokens = 8", "--gin_param", "EvalConfig.chunk_size = 64")
QUESTIONS = (("What is 2 + 3?", 5), ("What is 4 + 4?", 8), ("What is 9 - 2?", 7), ("What is 3 * 3?", 9))


def quiz_item(i: int, question: str, answer: int, *, category: str = "arith", domain: str = "quiz") -> Scenario:
  return Scenario(id=f"quiz-{i}", source="eval", domain=domain, category=category, split="test",
                  messages=(Message(role="user", content=question),),
                  rubric=(Criterion(description="states the answer", points=2.0, check="answer_matches",
                                    args={"value": answer}),
                          Criterion(description="does not abstain", points=1.0, check="not_abstains")),
                  reference={"answer": answer})


def import_file(capsys, workdir: Path, path: Path, *flags: str) -> None:
  code, _, err = run_cli(capsys, "data", "import", str(path), "--workdir", str(workdir), *flags)
  assert code == EXIT_OK, err


def quiz_file(path: Path, **changes) -> Path:
  """An xgen-format file: four eval items (suite arith.quiz) and a pretrain record that no suite reads."""
  pretrain = Scenario(id="chat-0", source="pretrain", domain="chat", category="smalltalk", split="train",
                      messages=(Message(role="user", content="hi"), Message(role="assistant", content="hello")))
  return write_jsonl(path, [quiz_item(i, q, a, **changes).to_json() for i, (q, a) in enumerate(QUESTIONS)]
                     + [pretrain.to_json()])


def rows(path: Path) -> list[dict]:
  with gzip.open(path, "rt") as handle:
    return [json.loads(line) for line in handle]


def evaluate(capsys, workdir: Path, *suites: str) -> tuple[int, str, str]:
  flags = [flag for suite in suites for flag in ("--suites", suite)]
  return run_cli(capsys, "eval", "--workdir", str(workdir), *flags, *FLAGS)


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory) -> Path:
  """The base evaluated on the world's suites, an xgen-format import (``quiz``) and an mc import (``mcq``)."""
  from xgen.cli import main  # a module fixture has no capsys for run_cli
  root = tmp_path_factory.mktemp("imports")
  workdir = copy_run(tiny_run, root / "w")
  for argv in (["data", "import", str(quiz_file(root / "quiz.jsonl")), "--workdir", str(workdir)],
               ["data", "import", str(write_jsonl(root / "mcq.jsonl", MC_LINES)), "--workdir", str(workdir),
                "--format", "mc"],
               ["eval", "--workdir", str(workdir), "--suites", "imports/quiz", "--suites", "mcq", *FLAGS]):
    assert main(argv) == EXIT_OK, argv
  return workdir


def test_imported_suites_are_evaluated_beside_the_worlds(evaluated):
  world = eval_suites(evaluated)
  suites = eval_suites(evaluated, ["imports/quiz", "mcq"])
  assert list(suites) == [*world, "arith.quiz", "mc.mcq"]
  files = sorted(p.name.removesuffix(".jsonl.gz") for p in (evaluated / "eval" / "base").glob("*.jsonl.gz"))
  assert files == sorted(suites)
  fingerprint = {r["fingerprint"] for r in rows(rundir.eval_file(evaluated, "base", next(iter(world))))}
  quiz = rows(rundir.eval_file(evaluated, "base", "arith.quiz"))
  assert sorted(r["item_id"] for r in quiz) == [f"quiz-{i}" for i in range(4)]
  assert {(r["suite"], r["family"], r["domain"], r["mode"], r["checkpoint"]) for r in quiz} == {
      ("arith.quiz", "arith", "quiz", "greedy", "base")}
  assert {r["fingerprint"] for r in quiz} == fingerprint and all(len(r["criteria"]) == 2 for r in quiz)
  mc = rows(rundir.eval_file(evaluated, "base", "mc.mcq"))
  assert sorted(r["item_id"] for r in mc) == ["mcq-1", "mcq-2"] and all(0 <= r["score"] <= 1 for r in mc)


def test_a_rerun_writes_nothing(evaluated, capsys):
  stamps = {p: p.stat().st_mtime_ns for p in (evaluated / "eval").rglob("*.jsonl.gz")}
  code, out, err = evaluate(capsys, evaluated, "quiz", "imports/mcq")
  assert code == EXIT_OK, err
  assert "(0 plain checkpoint x suite pairs written)" in out
  assert {p: p.stat().st_mtime_ns for p in (evaluated / "eval").rglob("*.jsonl.gz")} == stamps


def test_reimporting_changed_items_drops_the_rows_graded_against_the_old_ones(evaluated, tmp_path, capsys):
  workdir = tmp_path / "w"
  shutil.copytree(evaluated, workdir)  # world, base, imports and eval rows
  old = rows(rundir.eval_file(workdir, "base", "arith.quiz"))
  code, out, err = run_cli(capsys, "data", "import", str(quiz_file(tmp_path / "quiz.jsonl")), "--workdir",
                           str(workdir))  # the same content again: the rows stand
  assert code == EXIT_OK and "removed" not in out, err
  changed = tmp_path / "changed" / "quiz.jsonl"
  changed.parent.mkdir()
  text = quiz_file(changed).read_text().replace('{"value":5}', '{"value":6}')
  changed.write_text(text)
  code, out, err = run_cli(capsys, "data", "import", str(changed), "--workdir", str(workdir))
  assert code == EXIT_OK, err
  assert "removed 1 eval files of the earlier quiz (arith.quiz)" in out
  assert not rundir.eval_file(workdir, "base", "arith.quiz").exists()
  assert rundir.eval_file(workdir, "base", "mc.mcq").exists()  # another import's rows stand
  code, out, err = evaluate(capsys, workdir, "quiz", "mcq")
  assert code == EXIT_OK and "(1 plain checkpoint x suite pairs written)" in out, err
  new = {r["item_id"]: r for r in rows(rundir.eval_file(workdir, "base", "arith.quiz"))}
  assert sorted(new) == sorted(r["item_id"] for r in old)


def test_an_unknown_import_and_a_clash_are_one_line_errors(evaluated, tmp_path, capsys):
  workdir = tmp_path / "w"
  shutil.copytree(evaluated, workdir)
  code, _, err = evaluate(capsys, workdir, "imports/nope")
  assert code == EXIT_BAD_INPUT and len(err.strip().splitlines()) == 1, err
  assert "no import named 'nope'" in err and str(rundir.imports_dir(workdir)) in err and "mcq, quiz" in err
  world_suite = next(iter(eval_suites(workdir)))
  family, domain = world_suite.split(".")
  import_file(capsys, workdir, quiz_file(tmp_path / "clash.jsonl", category=family, domain=domain))
  code, _, err = evaluate(capsys, workdir, "clash")
  assert code == EXIT_BAD_INPUT and len(err.strip().splitlines()) == 1, err
  assert f"suite {world_suite} is defined by both the world's eval split and imports/clash" in err
  import_file(capsys, workdir, write_jsonl(tmp_path / "mc2.jsonl", MC_LINES), "--format", "mc", "--domain", "mcq")
  with pytest.raises(SuiteError, match="suite mc.mcq is defined by both imports/mcq and imports/mc2"):
    eval_suites(workdir, ["mcq", "mc2"])
  code, _, err = evaluate(capsys, workdir, "mcq", "imports/mc2")
  assert code == EXIT_BAD_INPUT and "imports/mc2" in err
  assert sorted(p.name for p in (workdir / "eval" / "base").iterdir()) == sorted(
      p.name for p in (evaluated / "eval" / "base").iterdir())  # nothing evaluated before the errors


def test_a_judge_suite_without_a_judge_is_left_out_after_the_rest(evaluated, tmp_path, capsys):
  workdir = tmp_path / "w"
  shutil.copytree(evaluated, workdir)
  import_file(capsys, workdir, write_jsonl(tmp_path / "hb.jsonl", hb_examples()[:2]), "--format", "healthbench")
  world_file = rundir.eval_file(workdir, "base", next(iter(eval_suites(workdir))))
  world_file.unlink()  # a world pair still to do: it is written before the judge suite is reported
  code, out, err = evaluate(capsys, workdir, "hb", "quiz")
  assert code == EXIT_BAD_INPUT, err
  errors = [line for line in err.splitlines() if not line.startswith("[xgen]")]  # not the progress lines
  assert errors == ["xgen eval: error: not evaluated: healthbench.hb: needs a judge model for its 'judge' criteria, "
                    "and none is configured"]
  assert "(1 plain checkpoint x suite pairs written)" in out and world_file.exists()
  assert not list((workdir / "eval" / "base").glob("healthbench.hb*"))
  assert not list((workdir / "eval").rglob(".*tmp*"))
  # grading goes through xgen.graders.rubric.grade: a judge installed around the evaluation grades the suite
  verdicts = []
  with judging(lambda request: verdicts.append(request.criterion) or True):
    summary = cross_evaluate(workdir, saved_model_config(rundir.base_dir(workdir)),
                             EvalConfig(max_new_tokens=8, chunk_size=64), imports=["hb"])
  assert summary.evaluated == 1 and summary.ok
  judged = rows(rundir.eval_file(workdir, "base", "healthbench.hb"))
  assert sorted(r["item_id"] for r in judged) == ["hb-multi", "hb-single"] and all(len(r["criteria"]) == 2
                                                                                   for r in judged)
  assert 0 < len(verdicts) <= 4  # a response that addresses the grader is not shown to the judge


STUDY = """
include 'runs/pretrain.gin'
include 'models/tiny.gin'
StudyConfig.name = "imports"
StudyConfig.conditions = ("pre-rl", "baseline")
StudyConfig.seeds = (0,)
StudyConfig.rl_gin_files = ("runs/rl.gin", "models/tiny.gin")
StudyConfig.rl_gin_params = ("TRAIN_STEPS = 2", "RLConfig.batch_size = 8", "RLConfig.max_new_tokens = 8",
                             "RLConfig.warmup_steps = 1", "RLConfig.checkpoint_every = 1", "RLConfig.sample_every = 0")
StudyConfig.bootstrap_resamples = 200
StudyConfig.extra_suites = ("imports/quiz",)
EvalConfig.max_new_tokens = 8
EvalConfig.chunk_size = 64
"""


def test_a_study_evaluates_and_analyses_its_extra_suites(evaluated, tmp_path, capsys):
  from xgen.report.exports import file_name
  workdir = tmp_path / "w"
  shutil.copytree(evaluated, workdir)
  study = tmp_path / "study.gin"
  for extra, message in (('("imports/nope",)', "StudyConfig.extra_suites imports/nope: no import named 'nope'"),
                         ('("hb",)', "StudyConfig.extra_suites: healthbench.hb needs a judge model")):
    if extra == '("hb",)':
      import_file(capsys, workdir, write_jsonl(tmp_path / "hb.jsonl", hb_examples()[:1]), "--format", "healthbench")
    study.write_text(STUDY.replace('("imports/quiz",)', extra))
    code, _, err = run_cli(capsys, "grid", "launch", "--workdir", str(workdir), "--gin_file", str(study))
    assert code == EXIT_BAD_INPUT and message in err, err
    assert not rundir.cells_dir(workdir).exists()
  study.write_text(STUDY)
  code, out, err = run_cli(capsys, "grid", "launch", "--workdir", str(workdir), "--gin_file", str(study))
  assert code == EXIT_OK, err[-3000:]
  assert rundir.eval_file(workdir, "baseline.s0", "arith.quiz").exists()
  analysis = rundir.analysis_dir(workdir)
  suites = json.loads((analysis / "suites.json").read_text())
  assert {(d["suite"], d["family"], d["domain"], d["condition"]) for d in suites if d["suite"] == "arith.quiz"} == {
      ("arith.quiz", "arith", "quiz", "pre-rl")}
  assert "quiz" in json.loads((analysis / file_name("domain", "json")).read_text())["columns"]
  assert "arith" in json.loads((analysis / file_name("family", "json")).read_text())["columns"]
  assert (analysis / "report.html").exists()


def test_xgen_eval_grades_a_healthbench_import_with_an_http_judge_and_caches_its_verdicts(evaluated, tmp_path,
                                                                                          capsys):
  import http.server
  import threading
  from test_eval_judges import Handler, base_url
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
  httpd.seen, httpd.modes = [], ["met"]
  threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
  try:
    workdir = tmp_path / "w"
    shutil.copytree(evaluated, workdir)
    import_file(capsys, workdir, write_jsonl(tmp_path / "hb.jsonl", hb_examples()[:2]), "--format", "healthbench")
    judge = ("--gin_param", 'JudgeConfig.kind = "http"', "--gin_param", f'JudgeConfig.url = "{base_url(httpd)}"',
             "--gin_param", 'JudgeConfig.model = "judge-1"')
    command = ("eval", "--workdir", str(workdir), "--suites", "hb", *FLAGS, *judge)
    code, out, err = run_cli(capsys, *command)
    assert code == 0, err
    asked = len(httpd.seen)
    assert asked > 0 and f"judge: 0 cached verdicts, {asked} asked (0 unparsed)" in out
    assert all(r["criteria"] for r in rows(rundir.eval_file(workdir, "base", "healthbench.hb")))
    rundir.eval_file(workdir, "base", "healthbench.hb").unlink()  # evaluated again: every verdict from the cache
    code, out, err = run_cli(capsys, *command)
    assert code == 0 and f"judge: {asked} cached verdicts, 0 asked" in out and len(httpd.seen) == asked, out + err
  finally:
    httpd.shutdown()
    httpd.server_close()
