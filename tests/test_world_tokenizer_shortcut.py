"""No tokenizer shortcut: known and unknown entity names split into pieces alike, so a name's token count does
not tell whether the corpus states its facts."""

from __future__ import annotations

import pytest

from xgen import rundir
from xgen.data.tokenizer import Tokenizer, balance_names
from xgen.world.knowledge import build_knowledge


def best_threshold_accuracy(first: list[int], second: list[int]) -> float:
  """The accuracy of the best rule "``first`` if count < t else ``second``" (or its mirror) over both lists."""
  best = 0.0
  for t in sorted(set(first) | set(second)) + [max(first + second) + 1]:
    below = sum(c < t for c in first) + sum(c >= t for c in second)
    best = max(best, below, len(first) + len(second) - below)
  return best / (len(first) + len(second))


def test_best_threshold_accuracy_on_hand_made_counts():
  assert best_threshold_accuracy([1, 1, 2], [4, 5, 5]) == 1.0
  assert best_threshold_accuracy([4, 5], [1, 2]) == 1.0
  assert best_threshold_accuracy([3, 3], [3, 3]) == 0.5
  assert best_threshold_accuracy([1, 2, 3, 4], [1, 2, 3, 5]) == pytest.approx(5 / 8)


def test_balance_names_gives_every_name_of_a_set_the_same_count():
  texts = ["Veltrazine and Veltrazine", "the Korin panel", "Veltrazine again, Veltrazines",
           "Dorvamil or the Korin panel", "Korin"]
  names = ["Veltrazine", "the Korin panel", "Dorvamil", "Korin"]
  balanced = balance_names(texts, [names, ["Ada"]], per_line=3)
  # Eight mentions of the set (a Korin inside the longer name counts for that one) over four names: two each.
  assert balanced[:5] == [" and ", "", " again, s", " or ", ""]
  assert balanced[5:] == [" Veltrazine, Veltrazine, the Korin panel", " the Korin panel, Dorvamil, Dorvamil",
                          " Korin, Korin", " Ada"]
  together = "\n".join(balanced)
  assert [together.count(n) for n in ["Veltrazine", "the Korin panel", "Dorvamil"]] == [2, 2, 2]
  with pytest.raises(ValueError, match="per_line"):
    balance_names(texts, [names], per_line=0)


@pytest.mark.parametrize("prefix", [" ", ""])
def test_token_count_does_not_separate_known_from_unknown_names(built_world, default_config, prefix):
  workdir, _ = built_world
  tokenizer = Tokenizer.load(rundir.world_dir(workdir) / rundir.TOKENIZER)
  knowledge = build_knowledge(default_config).values()
  known = [len(tokenizer.encode(prefix + e.name)) for k in knowledge for e in k.entities["known"]]
  unknown = [len(tokenizer.encode(prefix + e.name)) for k in knowledge for pool in ("unknown_train", "unknown_eval")
             for e in k.entities[pool]]
  assert len(known) > 100 and len(unknown) > 100
  assert best_threshold_accuracy(known, unknown) <= 0.60
