"""Scenario datasets round-trip through TFDS array_record and grain, deterministically."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xgen.data import tfds_store
from xgen.data.schema import Criterion, Followup, Message, Scenario


def graded(i: int, *, source: str = "trait", domain: str = "health", category: str = "honesty",
           split: str = "train") -> Scenario:
  return Scenario(
      id=f"{source}-{domain}-{i:03d}", source=source, domain=domain, category=category, split=split,
      messages=(Message(role="system", content="Be careful."),
                Message(role="user", content=f"Question {i}: é ✓ 🙂\nsecond line")),
      followups=(Followup(mode="continue", messages=(Message(role="user", content=f"Are you sure ({i})?"),)),),
      rubric=(Criterion(description="admits doubt", points=2.0, check="contains", args={"any": ["not sure"]}),
              Criterion(description="stays on topic", points=1.5, check="regex", args={"pattern": "q", "stage": 1})),
      reference={"answer": i, "notes": ["a", {"b": None}]},
      tags=("t1", f"n{i % 3}"),
  )


def pretrain(i: int) -> Scenario:
  return Scenario(id=f"pre-{i:03d}", source="pretrain", domain="chat", category="smalltalk", split="train",
                  messages=(Message(role="user", content=f"hi {i}"), Message(role="assistant", content=f"hello {i}")))


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Scenario]]:
  return {
      "trait_train": [graded(i) for i in range(23)],
      "standard_test": [graded(i, source="standard", domain="law", category="qa", split="test") for i in range(7)],
      "pretrain_train": [pretrain(i) for i in range(5)],
  }


@pytest.fixture(scope="module")
def stored(tmp_path_factory, splits):
  data_dir = tmp_path_factory.mktemp("store")
  return data_dir, tfds_store.write_scenarios(data_dir, splits)


def test_write_returns_version_dir_with_array_record_files(stored, splits):
  data_dir, version_dir = stored
  assert version_dir == data_dir / "xgen_scenarios" / "1.0.0"
  files = sorted(p.name for p in version_dir.glob("*.array_record*"))
  assert files == sorted(f"xgen_scenarios-{name}.array_record-00000-of-00001" for name in splits)
  info = json.loads((version_dir / "dataset_info.json").read_text())
  assert info["fileFormat"] == "array_record"
  assert {s["name"]: int(s["shardLengths"][0]) for s in info["splits"]} == {k: len(v) for k, v in splits.items()}
  assert not (data_dir / "downloads").exists()


def test_list_splits(stored, splits):
  assert tfds_store.list_splits(stored[0]) == sorted(splits)


def test_read_back_equals_written(stored, splits):
  data_dir, _ = stored
  for name, scenarios in splits.items():
    source = tfds_store.open_scenarios(data_dir, name)
    assert len(source) == len(scenarios)
    read = list(source)
    assert all(isinstance(s, Scenario) for s in read)
    assert sorted(read, key=lambda s: s.id) == sorted(scenarios, key=lambda s: s.id)
    assert source[-1] == read[-1]
  # The unicode text and nested reference survive exactly.
  by_id = {s.id: s for s in tfds_store.open_scenarios(data_dir, "trait_train")}
  assert by_id["trait-health-004"] == graded(4)
  assert by_id["trait-health-004"].to_json() == graded(4).to_json()


def test_reader_errors(stored, tmp_path):
  data_dir, _ = stored
  with pytest.raises(KeyError, match="no split 'nope'.*trait_train"):
    tfds_store.open_scenarios(data_dir, "nope")
  with pytest.raises(FileNotFoundError, match="no xgen_scenarios dataset"):
    tfds_store.open_scenarios(tmp_path, "trait_train")
  source = tfds_store.open_scenarios(data_dir, "pretrain_train")
  with pytest.raises(IndexError):
    source[5]


def test_write_is_byte_deterministic(tmp_path, splits):
  first = tfds_store.write_scenarios(tmp_path / "a", splits)
  # Same scenarios handed over in another order: TFDS orders by key hash, so bytes match.
  reordered = {name: list(reversed(scenarios)) for name, scenarios in reversed(list(splits.items()))}
  second = tfds_store.write_scenarios(tmp_path / "b", reordered)
  files = sorted(p.name for p in first.glob("*.array_record*"))
  assert len(files) == 3
  for name in files:
    assert (first / name).read_bytes() == (second / name).read_bytes()
  # A changed record changes the bytes.
  changed = dict(splits, pretrain_train=[pretrain(i) for i in range(4)] + [pretrain(99)])
  third = tfds_store.write_scenarios(tmp_path / "c", changed)
  name = "xgen_scenarios-pretrain_train.array_record-00000-of-00001"
  assert (third / name).read_bytes() != (first / name).read_bytes()


_WRITE_IN_FRESH_PROCESS = """
import sys
from pathlib import Path
from xgen.data.schema import Scenario
from xgen.data.tfds_store import write_scenarios
lines = Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()
write_scenarios(sys.argv[2], {"train": [Scenario.from_json(line) for line in lines]})
"""


def test_write_is_byte_deterministic_across_processes(tmp_path):
  # protobuf (upb) orders a tf.Example's feature map differently in every process, so
  # this is the check that matters; two writes in one process agree even without the fix.
  records = tmp_path / "records.jsonl"
  records.write_text("\n".join(graded(i).to_json() for i in range(12)), encoding="utf-8")
  dirs = [tmp_path / "p1", tmp_path / "p2"]
  for out in dirs:
    subprocess.run([sys.executable, "-c", _WRITE_IN_FRESH_PROCESS, str(records), str(out)], check=True)
  name = "xgen_scenarios/1.0.0/xgen_scenarios-train.array_record-00000-of-00001"
  assert (dirs[0] / name).read_bytes() == (dirs[1] / name).read_bytes()


def test_write_validation(tmp_path):
  with pytest.raises(ValueError, match="duplicate scenario id 'pre-001'"):
    tfds_store.write_scenarios(tmp_path / "dup", {"train": [pretrain(0), pretrain(1), pretrain(1)]})
  assert not (tmp_path / "dup" / "xgen_scenarios" / "1.0.0").exists()
  with pytest.raises(ValueError, match="holds no scenarios"):
    tfds_store.write_scenarios(tmp_path / "empty", {"train": [pretrain(0)], "test": []})
  with pytest.raises(ValueError, match="split name"):
    tfds_store.write_scenarios(tmp_path / "bad", {"train-1": [pretrain(0)]})
  with pytest.raises(ValueError, match="no splits"):
    tfds_store.write_scenarios(tmp_path / "none", {})
  tfds_store.write_scenarios(tmp_path / "ok", {"train": [pretrain(0)]})
  with pytest.raises(FileExistsError):
    tfds_store.write_scenarios(tmp_path / "ok", {"train": [pretrain(1)]})


def test_builder_name_and_version():
  assert tfds_store.XgenScenarios.name == "xgen_scenarios"
  assert str(tfds_store.XgenScenarios.VERSION) == "1.0.0"


def test_write_prints_nothing(tmp_path, capfd, splits):
  tfds_store.write_scenarios(tmp_path, splits)
  out, _ = capfd.readouterr()
  assert out == ""


def test_grain_dataset_is_a_seeded_shuffle(stored, splits):
  source = tfds_store.open_scenarios(stored[0], "trait_train")
  ids = lambda ds: [s.id for s in ds]
  first = ids(tfds_store.scenario_dataset(source, seed=7))
  again = ids(tfds_store.scenario_dataset(source, seed=7))
  other = ids(tfds_store.scenario_dataset(source, seed=8))
  stored_order = [s.id for s in source]
  assert first == again
  assert sorted(first) == sorted(s.id for s in splits["trait_train"])
  assert first != other and sorted(other) == sorted(first)
  assert first != stored_order
  assert ids(tfds_store.scenario_dataset(source, seed=7, shuffle=False)) == stored_order
  dataset = tfds_store.scenario_dataset(source, seed=7)
  assert isinstance(dataset[0], Scenario) and dataset[0].id == first[0]


def test_grain_epochs_are_reshuffled(stored):
  source = tfds_store.open_scenarios(stored[0], "standard_test")
  dataset = tfds_store.scenario_dataset(source, seed=1, num_epochs=3)
  assert len(dataset) == 3 * len(source)
  ids = [s.id for s in dataset]
  epochs = [ids[i * 7:(i + 1) * 7] for i in range(3)]
  assert all(sorted(e) == sorted(epochs[0]) for e in epochs)
  assert len({tuple(e) for e in epochs}) > 1
  forever = tfds_store.scenario_dataset(source, seed=1, num_epochs=None)
  assert [forever[i].id for i in range(21)] == ids
  with pytest.raises(ValueError, match="num_epochs"):
    tfds_store.scenario_dataset(source, seed=1, num_epochs=0)


def test_grain_dataset_over_plain_sequence():
  scenarios = [pretrain(i) for i in range(10)]
  dataset = tfds_store.scenario_dataset(scenarios, seed=3)
  assert sorted(s.id for s in dataset) == sorted(s.id for s in scenarios)
  assert [s.id for s in dataset] == [s.id for s in tfds_store.scenario_dataset(scenarios, seed=3)]
