"""``xgen eval``, ``xgen matrix``, ``xgen claims`` and ``xgen report``: cross-evaluation of a run directory,
and its analysis."""

from __future__ import annotations

import argparse
import sys

from xgen import rundir
from xgen.cli.common import (EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, BadInput, Failed, add_common_flags, build_config,
                             configure, progress)
from xgen.config import config_error_line


def cmd_eval(args: argparse.Namespace) -> int:
  from xgen.eval.crosseval import EvalConfig, cross_evaluate
  from xgen.models.config import ModelConfig
  from xgen.train.sft import saved_model_config
  configure(args)
  eval_config = build_config(EvalConfig)
  if not rundir.manifest_path(rundir.world_dir(args.workdir)).exists():
    raise BadInput(f"no world in {rundir.world_dir(args.workdir)}")
  try:
    model_config = saved_model_config(rundir.base_dir(args.workdir)) or build_config(ModelConfig)
  except (FileNotFoundError, ValueError) as error:  # ValueError: the base's recorded ModelConfig does not check
    raise BadInput(config_error_line(error)) from None
  personas = _personas(args)
  from xgen.eval.judges import JudgeConfig, JudgeUnavailable, judge_context
  from xgen.eval.suites import SuiteError
  try:
    with judge_context(args.workdir, build_config(JudgeConfig)) as judge:
      summary = cross_evaluate(args.workdir, model_config, eval_config, cells=args.cell or None,
                               announce=progress, imports=args.suites or ())
  except SuiteError as error:  # an unknown import or a clashing suite name, before any evaluation
    raise BadInput(str(error)) from None
  except (JudgeUnavailable, FileNotFoundError) as error:  # the judge's endpoint or checkpoint
    raise BadInput(" ".join(str(error).split())) from None
  if judge is not None:
    stats = judge.stats()
    print(f"judge: {stats['hits']} cached verdicts, {stats['misses']} asked ({stats['unparsed']} unparsed)")
  damaged = dict(summary.damaged)
  if personas:
    from xgen.eval.protocols import evaluate_personas
    refs = [ref for ref in summary.checkpoints if ref.final]
    for persona_summary in evaluate_personas(args.workdir, model_config, eval_config, refs, personas,
                                             announce=progress):
      damaged.update(persona_summary.damaged)
  print(f"evaluated {len(summary.checkpoints)} checkpoints" + (f" plain and under {len(personas)} personas"
                                                                if personas else "")
        + f" ({summary.evaluated} plain checkpoint x suite pairs written) into {rundir.eval_dir(args.workdir)}")
  for checkpoint, reason in sorted(damaged.items()):
    print(f"xgen eval: not evaluated: {checkpoint}: {reason}", file=sys.stderr)
  if summary.unjudged:  # every other suite was evaluated and written first
    needs = "needs" if len(summary.unjudged) == 1 else "need"
    print(f"xgen eval: error: not evaluated: {', '.join(summary.unjudged)}: {needs} a judge model for its 'judge' "
          "criteria, and none is configured", file=sys.stderr)
    return EXIT_BAD_INPUT
  return EXIT_OK if not damaged else EXIT_FAILED


def _personas(args: argparse.Namespace) -> list:
  """The personas --persona names, from the run directory's world; BadInput for one it does not have."""
  if not args.persona:
    return []
  from xgen.world.personas import read_personas
  try:
    known = read_personas(args.workdir)
  except (FileNotFoundError, ValueError) as error:
    raise BadInput(str(error)) from None
  unknown = [name for name in args.persona if name not in known]
  if unknown:
    raise BadInput(f"--persona {unknown[0]}: not a persona of {rundir.personas_path(args.workdir)} "
                   f"(its personas: {', '.join(known)})")
  return [known[name] for name in dict.fromkeys(args.persona)]


def _launched_study(args: argparse.Namespace):
  """The study's settings: from explicit --gin_file, else from the workdir's study.json (plain data that
  `xgen grid launch` wrote) with any StudyConfig --gin_param on top. The workdir's study.gin is a record
  and is never parsed unasked: a gin file can import Python modules, and a workdir may come from anyone."""
  from xgen import config
  from xgen.grid.study import StudyConfig, study_from_record
  configure(args)
  if args.gin_file:
    return build_config(StudyConfig)
  path = rundir.study_json_path(args.workdir)
  try:
    record = rundir.read_json(path)
  except rundir.DamagedFile as error:
    raise BadInput(str(error)) from None
  if record is None:
    if rundir.study_gin_path(args.workdir).exists():
      raise BadInput(f"no {path} (the study was launched by an older xgen); if you trust "
                     f"{rundir.study_gin_path(args.workdir)}, pass it with --gin_file")
    return build_config(StudyConfig)
  try:
    return study_from_record(record, str(path), **config.bound_values("StudyConfig"))
  except ValueError as error:
    raise BadInput(config_error_line(error)) from None


def _condition_order(workdir: str, study) -> list[str] | None:
  """The study's conditions in the order a launch lists them (None when the world's domains are unknown)."""
  from xgen.grid.launch import study_domains
  from xgen.grid.study import study_conditions
  try:
    manifest = rundir.read_json(rundir.manifest_path(rundir.world_dir(workdir)))
  except rundir.DamagedFile:
    return None
  domains = (manifest or {}).get("domains")
  try:
    return ([c.name for c in study_conditions(study, study_domains(workdir, study, domains))]
            if isinstance(domains, list) else None)
  except (ValueError, OSError):  # a bad condition, or the trait source's import gone (MissingInput)
    return None


def _analysis(args: argparse.Namespace):
  from xgen.report.study import analyse
  study = _launched_study(args)
  try:
    return analyse(args.workdir, baseline=study.baseline, alpha=study.alpha, n_resamples=study.bootstrap_resamples,
                   seed=study.analysis_seed, condition_order=_condition_order(args.workdir, study)), study
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  except ValueError as error:  # a malformed eval row, named by file and line
    raise Failed(str(error)) from None


def cmd_matrix(args: argparse.Namespace) -> int:
  from xgen.report.exports import matrix_csv, matrix_json, matrix_latex, matrix_markdown
  from xgen.report.study import write_analysis
  analysis, _ = _analysis(args)
  matrix = analysis.matrices[args.view]
  if args.format == "png":
    paths = write_analysis(args.workdir, analysis, formats=("png",))
    print("\n".join(str(p) for p in paths if p.suffix == ".png"))
    return EXIT_OK
  render = {"csv": matrix_csv, "json": lambda m: matrix_json(m, analysis.deltas), "md": matrix_markdown,
            "latex": matrix_latex}[args.format]
  print(render(matrix))
  return EXIT_OK


def cmd_claims(args: argparse.Namespace) -> int:
  from xgen.report.claims import claims_markdown
  from xgen.report.study import claims_table, write_claims_files
  analysis, _ = _analysis(args)
  try:
    table = claims_table(args.workdir, analysis)
  except ValueError as error:  # a malformed eval row, named by file and line
    raise Failed(str(error)) from None
  write_claims_files(args.workdir, table)
  print(claims_markdown(table.rows, table.caveats), end="")
  return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
  from xgen.report.study import write_study_report
  analysis, study = _analysis(args)
  print(f"report: {write_study_report(args.workdir, analysis, title=f'xgen study {study.name!r}')}")
  return EXIT_OK


def add_eval(commands: argparse._SubParsersAction) -> None:
  evaluate = commands.add_parser("eval", help="evaluate the base and every finished cell on every eval suite into "
                                              "WORKDIR/eval/ (pairs already evaluated are skipped)")
  add_common_flags(evaluate)
  evaluate.add_argument("--cell", action="append", help="only this cell (repeatable)")
  evaluate.add_argument("--suites", action="append", metavar="imports/NAME",
                        help="also evaluate the eval suites of this import of WORKDIR/imports/ (`xgen data "
                             "import`; plain NAME works too; repeatable)")
  evaluate.add_argument("--persona", action="append", metavar="NAME",
                        help="also evaluate the final checkpoints under this persona of WORKDIR/world/personas.json, "
                             "on the families it targets and capability (repeatable)")
  evaluate.set_defaults(run=cmd_eval)


def add_analysis(commands: argparse._SubParsersAction) -> None:
  matrix = commands.add_parser("matrix", help="the transfer matrix of an evaluated run directory")
  add_common_flags(matrix)
  matrix.add_argument("--format", choices=("csv", "json", "md", "latex", "png"), default="md")
  matrix.add_argument("--view", choices=("domain", "family"), default="domain",
                      help="columns are eval domains or eval families")
  matrix.set_defaults(run=cmd_matrix)
  claims = commands.add_parser("claims", help="the paper's claims beside this study's numbers and verdicts: "
                                              "prints the table and writes WORKDIR/analysis/claims.{csv,json,md}")
  add_common_flags(claims)
  claims.set_defaults(run=cmd_claims)
  report = commands.add_parser("report", help="write WORKDIR/analysis/ and the HTML report")
  add_common_flags(report)
  report.set_defaults(run=cmd_report)
