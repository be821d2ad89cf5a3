"""Where eval suites come from: the world's eval split and the eval records of imported datasets.

A suite is one eval family in one domain, named ``<family>.<domain>`` after its items' ``category`` and
``domain``. The world gives the suites of its eval split (``eval_test``). An import (``xgen data import``,
``W/imports/<name>/``) gives the suites of its eval records, every split of source ``eval``
(``eval_test``, ...), named the same way: a HealthBench file makes ``healthbench.<domain>`` (the domain
defaults to the import's name), a multiple-choice file ``mc.<domain>``, an xgen file whatever its records
name. An import is asked for as ``imports/<name>`` or plain ``<name>``.

Every item is asked and graded as a world item is: tokenized with the run directory's tokenizer (the
world's), graded by ``xgen.graders.rubric.grade``. Two sources that define one suite name are an error
naming both (:class:`SuiteError`), as is an import that does not exist or holds no eval records.

A suite with a ``judge`` criterion (HealthBench's) can only be graded inside a judge context
(``xgen.graders.judge.judging``); :func:`unjudged` names the suites that would need one when none is active,
so that the caller can leave them out and report them instead of failing half-way through a checkpoint.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from xgen import rundir
from xgen.data.schema import EVAL_SOURCE, JUDGE_CHECK, Scenario

if TYPE_CHECKING:
  from xgen.world.store import World

IMPORTS_PREFIX = "imports/"
WORLD_ORIGIN = "the world's eval split"

Suites = dict[str, list[Scenario]]


class SuiteError(ValueError):
  """An eval suite that cannot be evaluated as asked: an unknown import, one without eval records, a suite
  name two sources define, or an imported item whose family or domain cannot name a suite."""


def suite_name(scenario: Scenario) -> str:
  return f"{scenario.category}.{scenario.domain}"


def import_name(spec: str, what: str = "--suites") -> str:
  """The import that ``imports/<name>`` or ``<name>`` asks for; SuiteError naming ``what`` when it is no
  safe name."""
  name = spec[len(IMPORTS_PREFIX):] if isinstance(spec, str) and spec.startswith(IMPORTS_PREFIX) else spec
  try:
    return rundir.check_name(name, what)
  except ValueError as error:
    raise SuiteError(str(error)) from None


def origin(name: str) -> str:
  """How messages name an import: ``imports/<name>``."""
  return f"{IMPORTS_PREFIX}{name}"


def known_imports(workdir) -> list[str]:
  """The names of the imports in the run directory, sorted."""
  root = rundir.imports_dir(workdir)
  return sorted(p.name for p in root.iterdir() if rundir.manifest_path(p).exists()) if root.is_dir() else []


def import_eval_splits(workdir, name: str, what: str = "--suites") -> list[str]:
  """The TFDS splits of the import ``name`` that hold eval records; SuiteError when there is no such import
  or it holds none."""
  directory = rundir.import_dir(workdir, name)
  try:
    manifest = rundir.read_json(rundir.manifest_path(directory))
  except rundir.DamagedFile as error:
    raise SuiteError(f"{what} {origin(name)}: {error}") from None
  if not isinstance(manifest, dict) or not isinstance(manifest.get("splits"), dict):
    known = known_imports(workdir)
    raise SuiteError(f"{what} {origin(name)}: no import named {name!r} in {rundir.imports_dir(workdir)} "
                     f"({'its imports: ' + ', '.join(known) if known else 'it holds none'}; add one with "
                     f"`xgen data import FILE --name {name}`)")
  splits = sorted(s for s in manifest["splits"] if s.startswith(f"{EVAL_SOURCE}_"))
  if not splits:
    raise SuiteError(f"{what} {origin(name)}: holds no eval records (source '{EVAL_SOURCE}'; its splits: "
                     f"{', '.join(sorted(manifest['splits'])) or 'none'})")
  return splits


def check_imports(workdir, specs: Sequence[str], what: str = "--suites") -> tuple[str, ...]:
  """The import names ``specs`` ask for, without repeats, each an existing import with eval records;
  ValueError (SuiteError) naming the first that is not."""
  names = tuple(dict.fromkeys(import_name(spec, what) for spec in specs))
  for name in names:
    import_eval_splits(workdir, name, what)
  return names


def _check_suite_part(value: str, field: str, scenario: Scenario, name: str) -> None:
  from xgen.data.formats.common import check_domain
  try:
    check_domain(value, field)
  except ValueError as error:
    raise SuiteError(f"{origin(name)}: item {scenario.id!r}: {error}") from None


def import_suites(workdir, name: str) -> Suites:
  """suite -> its items, from the eval records of the import ``name`` (SuiteError as ``import_eval_splits``)."""
  from xgen.data.tfds_store import open_scenarios
  data_dir = rundir.tfds_dir(rundir.import_dir(workdir, name))
  suites: Suites = defaultdict(list)
  for split in import_eval_splits(workdir, name):
    for scenario in open_scenarios(data_dir, split):
      _check_suite_part(scenario.category, "category", scenario, name)
      _check_suite_part(scenario.domain, "domain", scenario, name)
      suites[suite_name(scenario)].append(scenario)
  return dict(sorted(suites.items()))


def world_suites(world: World, families: Callable[[str], bool] | None = None) -> Suites:
  """suite -> its items, from a world's eval split (only the families ``families`` accepts, if given)."""
  from xgen.world.store import EVAL_SPLIT
  return keep_families(group(world.scenarios(EVAL_SPLIT)), families)


def group(scenarios: Iterable[Scenario]) -> Suites:
  """suite -> its items, suites sorted by name, items in the given order."""
  suites: Suites = defaultdict(list)
  for scenario in scenarios:
    suites[suite_name(scenario)].append(scenario)
  return dict(sorted(suites.items()))


def merge_suites(sources: Sequence[tuple[str, Suites]]) -> Suites:
  """The suites of every (origin, suites) source, in order; SuiteError naming both origins of a suite name
  two of them define."""
  merged: Suites = {}
  owner: dict[str, str] = {}
  for where, suites in sources:
    for suite, items in suites.items():
      if suite in owner:
        raise SuiteError(f"suite {suite} is defined by both {owner[suite]} and {where} (re-import one under "
                         "another --name or --domain)")
      owner[suite], merged[suite] = where, list(items)
  return merged


def keep_families(suites: Suites, families: Callable[[str], bool] | None) -> Suites:
  """The suites of the families ``families`` accepts (all when None)."""
  return {s: items for s, items in suites.items() if families is None or families(items[0].category)}


def eval_suites(workdir, imports: Sequence[str] = (), families: Callable[[str], bool] | None = None, *,
                world: World | None = None) -> Suites:
  """suite -> its items: the world's eval split (``world``, or the run directory's, verified), then each
  import of ``imports`` in order; names are checked for clashes before ``families`` filters them."""
  from xgen.world.store import open_world
  world = world if world is not None else open_world(workdir)
  sources = [(WORLD_ORIGIN, world_suites(world))]
  sources += [(origin(name), import_suites(workdir, name)) for name in check_imports(workdir, imports)]
  return keep_families(merge_suites(sources), families)


def needs_judge(items: Iterable[Scenario]) -> bool:
  """Whether some item has a ``judge`` criterion."""
  return any(criterion.check == JUDGE_CHECK for scenario in items for criterion in scenario.rubric)


def judge_active() -> bool:
  """Whether a judge model grades ``judge`` criteria in this context (``xgen.graders.judge.judging``)."""
  from xgen.graders.judge import active_judge
  return active_judge() is not None


def unjudged(suites: Mapping[str, Sequence[Scenario]]) -> list[str]:
  """The suites that need a judge model when none is active (none when one is)."""
  if judge_active():
    return []
  return [name for name, items in suites.items() if needs_judge(items)]


def judged_last(suites: Suites) -> Suites:
  """The same suites, those that need a judge model last (so a judge failing leaves the others written)."""
  return dict(sorted(suites.items(), key=lambda item: needs_judge(item[1])))
