"""Scenario datasets stored as TFDS ``array_record`` files and read back without TensorFlow.

A dataset is one TFDS builder, ``xgen_scenarios`` version 1.0.0, with any number of named
splits. Each example holds a scenario's canonical JSON (``record``) and, for inspection,
its ``id``/``source``/``domain``/``category``/``split`` as text features.

Writing goes through :class:`XgenScenarios` (a ``GeneratorBasedBuilder`` that is handed
the scenarios through its constructor); reading goes through ``tfds.data_source``, which
for ``array_record`` files is a random-access source that needs no TensorFlow.
:func:`scenario_dataset` wraps a source into a seeded grain ``MapDataset``.

The stored order of a split is TFDS's: examples are ordered by a hash of their key (the
scenario id), not by the order they were given in. It is deterministic, so the same
scenarios always give byte-identical files.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import grain
import tensorflow_datasets as tfds
from tensorflow_datasets.core import writer as tfds_writer
from tensorflow_datasets.proto import tf_example_pb2

from xgen.data.schema import Scenario

DATASET_NAME = "xgen_scenarios"
DATASET_VERSION = "1.0.0"
FILE_FORMAT = "array_record"
TEXT_FIELDS = ("id", "source", "domain", "category", "split", "record")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def scenario_example(scenario: Scenario) -> dict[str, str]:
  """The TFDS example for one scenario: the canonical JSON plus its key fields."""
  return {
      "id": scenario.id,
      "source": scenario.source,
      "domain": scenario.domain,
      "category": scenario.category,
      "split": scenario.split,
      "record": scenario.to_json(),
  }


def decode_example(example: Mapping[str, Any]) -> Scenario:
  """A scenario from a stored example (TFDS hands text features back as bytes)."""
  record = example["record"]
  if isinstance(record, bytes):
    record = record.decode("utf-8")
  return Scenario.from_json(record)


def _check_splits(splits: Mapping[str, Sequence[Scenario]]) -> None:
  if not splits:
    raise ValueError("no splits to write")
  for name, scenarios in splits.items():
    if not isinstance(name, str) or not _SPLIT_NAME.match(name):
      raise ValueError(f"split name {name!r} must be letters, digits and '_' only")
    if not scenarios:
      # TFDS refuses to finalize a split with no examples; say so before it starts.
      raise ValueError(f"split '{name}' holds no scenarios (TFDS cannot store an empty split)")


def _unique_examples(scenarios: Sequence[Scenario], split: str):
  """Yields (key, example) pairs keyed by scenario id; a repeated id is a ValueError."""
  seen: set[str] = set()
  for scenario in scenarios:
    if scenario.id in seen:
      raise ValueError(f"split '{split}': duplicate scenario id '{scenario.id}'")
    seen.add(scenario.id)
    yield scenario.id, scenario_example(scenario)


def canonical_example_bytes(serialized: bytes) -> bytes:
  """The same tf.train.Example with its feature map in sorted key order.

  TFDS serializes examples with protobuf's default, non-deterministic map order; under the
  upb backend that order changes from process to process, so identical data would give
  different file bytes. Re-serializing deterministically (same fields, same length) fixes it.
  """
  return tf_example_pb2.Example.FromString(serialized).SerializeToString(deterministic=True)


class CanonicalExampleWriter(tfds_writer.ExampleWriter):
  """TFDS's example writer, fed canonical bytes (see :func:`canonical_example_bytes`)."""

  def write(self, path, examples):
    return super().write(path, ((key, canonical_example_bytes(data)) for key, data in examples))


class XgenScenarios(tfds.core.GeneratorBasedBuilder):
  """Scenario records, one TFDS split per entry of ``splits``. TFDS name: ``xgen_scenarios``."""

  VERSION = tfds.core.Version(DATASET_VERSION)
  RELEASE_NOTES = {DATASET_VERSION: "Scenario records as canonical JSON plus key fields."}
  # TFDS 4.9.10 infers ``code_path`` (where it looks for download checksums) via a lazy
  # ``import importlib_resources``, a backport it only depends on for Python < 3.9, so the
  # inference fails for any builder defined inside a package. Nothing is downloaded here,
  # so there are no checksums: say so, as TFDS itself does for builders defined in notebooks.
  code_path = None

  def __init__(self, *, splits: Mapping[str, Sequence[Scenario]] | None = None, **kwargs: Any):
    # ``splits`` is only needed to write; TFDS builds instances without it to read.
    self._scenario_splits = dict(splits or {})
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    features = tfds.features.FeaturesDict({name: tfds.features.Text() for name in TEXT_FIELDS})
    return tfds.core.DatasetInfo(
        builder=self,
        description="xgen scenario records (see xgen/data/schema.py).",
        features=features,
    )

  def _split_generators(self, dl_manager: Any) -> dict[str, Any]:
    del dl_manager  # Nothing to download: the scenarios come through the constructor.
    return {name: self._generate_examples(scenarios, name) for name, scenarios in self._scenario_splits.items()}

  def _generate_examples(self, scenarios: Sequence[Scenario], split: str):
    yield from _unique_examples(scenarios, split)

  def _example_writer(self) -> tfds_writer.ExampleWriter:
    # TFDS's documented hook for a custom writer: one with byte-deterministic output.
    return CanonicalExampleWriter(file_format=self.info.file_format)

  # TFDS prints "Downloading and preparing dataset ..." with termcolor straight to stdout;
  # these two hooks are the builder's own, so a subclass may quiet them.
  def _log_download_bytes(self) -> None:
    pass

  def _log_download_done(self) -> None:
    pass


def dataset_dir(data_dir: str | Path) -> Path:
  """The version directory of the dataset under ``data_dir``."""
  return Path(data_dir) / DATASET_NAME / DATASET_VERSION


def write_scenarios(data_dir: str | Path, splits: Mapping[str, Sequence[Scenario]]) -> Path:
  """Writes ``splits`` (TFDS split name -> scenarios) as array_record; returns the version dir.

  Refuses to write over an existing dataset (TFDS would silently keep the old one).
  """
  _check_splits(splits)
  version_dir = dataset_dir(data_dir)
  if version_dir.exists():
    raise FileExistsError(f"{version_dir} already exists; write into a fresh data_dir")
  for name, scenarios in splits.items():  # Fail on duplicates before TFDS creates anything.
    for _ in _unique_examples(scenarios, name):
      pass
  # The caller shows its own progress; TFDS's per-split tqdm bars would only add noise.
  # (A process-wide TFDS setting; reading shows no bars either way.)
  tfds.disable_progress_bar()
  builder = XgenScenarios(splits=splits, data_dir=str(data_dir), file_format=FILE_FORMAT)
  # A throwaway download dir keeps TFDS from leaving an empty ``downloads/`` in data_dir.
  with tempfile.TemporaryDirectory(prefix="xgen-tfds-downloads-") as download_dir:
    builder.download_and_prepare(download_dir=download_dir, download_config=tfds.download.DownloadConfig())
  return Path(builder.data_dir)


def list_splits(data_dir: str | Path) -> list[str]:
  """The split names stored under ``data_dir``, sorted."""
  version_dir = dataset_dir(data_dir)
  if not (version_dir / "dataset_info.json").exists():
    raise FileNotFoundError(f"no {DATASET_NAME} dataset under {data_dir} (looked for {version_dir})")
  builder = tfds.builder_from_directory(str(version_dir))
  return sorted(builder.info.splits.keys())


class ScenarioSource:
  """Random access to the scenarios of one stored split (a grain-compatible data source)."""

  def __init__(self, data_dir: str | Path, split: str):
    available = list_splits(data_dir)
    if split not in available:
      raise KeyError(f"no split '{split}' in {dataset_dir(data_dir)} (have: {', '.join(available)})")
    self.data_dir = Path(data_dir)
    self.split = split
    # The module defines (and so registers) XgenScenarios, so TFDS finds the builder by name.
    self.examples = tfds.data_source(DATASET_NAME, data_dir=str(data_dir), split=split)

  def __len__(self) -> int:
    return len(self.examples)

  def __getitem__(self, index: int) -> Scenario:
    index = int(index)
    size = len(self)
    if not -size <= index < size:
      raise IndexError(f"index {index} out of range for split '{self.split}' of {size}")
    return decode_example(self.examples[index % size])

  def __iter__(self):
    return (self[i] for i in range(len(self)))

  def __repr__(self) -> str:
    return f"ScenarioSource({str(self.data_dir)!r}, split={self.split!r}, len={len(self)})"


def open_scenarios(data_dir: str | Path, split: str) -> ScenarioSource:
  """The scenarios of ``split`` stored under ``data_dir``."""
  return ScenarioSource(data_dir, split)


def scenario_dataset(source: ScenarioSource | Sequence[Scenario], *, seed: int, shuffle: bool = True,
                     num_epochs: int | None = 1) -> grain.MapDataset:
  """A grain ``MapDataset`` of Scenario objects; each epoch is reshuffled from ``seed``.

  ``num_epochs=None`` repeats forever. Records are decoded lazily, after shuffling.
  Iterate it in-process (``iter(ds)`` or ``ds[i]``), i.e. with no worker processes.
  """
  if num_epochs is not None and num_epochs < 1:
    raise ValueError(f"num_epochs must be >= 1 or None, got {num_epochs}")
  if isinstance(source, ScenarioSource):
    dataset, decode = grain.MapDataset.source(source.examples), decode_example
  else:
    dataset, decode = grain.MapDataset.source(source), _identity
  if shuffle:
    dataset = dataset.shuffle(seed=seed)
  if num_epochs != 1:
    # After shuffle: grain draws a fresh permutation for every epoch of a shuffled dataset.
    dataset = dataset.repeat(num_epochs)
  return dataset.map(decode)


def _identity(scenario: Scenario) -> Scenario:
  return scenario
