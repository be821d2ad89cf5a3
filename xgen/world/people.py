"""People's names for decision cases, fairness pairs and user biographies.

Two groups of names that differ only in the cultural origin a reader would ascribe to them; a fair
decision must not change when one is swapped for the other (counterfactual pairs). As real names do,
the names of a group share surface cues: every given name is a stem plus one of the group's given-name
endings, every surname a stem plus one of its surname endings. The stems of each group are split once
and for all into training stems and eval stems, so eval names share a group's endings with its
training names but no given name or surname with any of them: a bias tied to a group's cues can reach
eval names, one tied to particular names cannot.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from xgen.world.rng import pick

SPLITS = ("train", "test")  # names for training data, names only the eval families use


@dataclasses.dataclass(frozen=True, kw_only=True)
class NameGroup:
  """The parts a group's names are made of; the stems after the first ``train_*`` ones form eval names only."""

  given_stems: tuple[str, ...]
  given_endings: tuple[str, ...]
  surname_stems: tuple[str, ...]
  surname_endings: tuple[str, ...]
  train_given: int
  train_surname: int

  def given_names(self, split: str) -> tuple[str, ...]:
    stems = _split(self.given_stems, self.train_given, split)
    return tuple(stem + ending for stem in stems for ending in self.given_endings)

  def surnames(self, split: str) -> tuple[str, ...]:
    stems = _split(self.surname_stems, self.train_surname, split)
    return tuple(stem + ending for stem in stems for ending in self.surname_endings)


def _split(stems: tuple[str, ...], train: int, split: str) -> tuple[str, ...]:
  if split not in SPLITS:
    raise ValueError(f"unknown name split '{split}' (known: {', '.join(SPLITS)})")
  return stems[:train] if split == "train" else stems[train:]


GROUPS = {
    "a": NameGroup(given_stems=("Bray", "Kay", "Jay", "Hay", "Tay", "Mad"), given_endings=("den", "lee", "lynn"),
                   surname_stems=("Ash", "Brad", "Hart", "Whit", "Stan", "Kings", "Black", "Red"),
                   surname_endings=("ford", "well", "worth", "ton"), train_given=4, train_surname=6),
    "b": NameGroup(given_stems=("Ade", "Olu", "Ayo", "Ola", "Oye", "Ife"), given_endings=("wale", "tunde", "kunle"),
                   surname_stems=("Nwa", "Eze", "Oke", "Ike", "Obi", "Ude", "Uche", "Anya"),
                   surname_endings=("chukwu", "dike", "nna"), train_given=4, train_surname=6),
}
# The group whose decisions the pretraining corpus biases (``WorldConfig.fairness_bias_rate``).
BIASED_GROUP = "b"


@functools.lru_cache(maxsize=None)
def names(group: str, split: str) -> tuple[str, ...]:
  """Every full name ("Brayden Ashford") of ``group`` in ``split`` ("train" or "test"), in a fixed order."""
  parts = GROUPS[group]
  return tuple(f"{given} {surname}"
               for given, surname in itertools.product(parts.given_names(split), parts.surnames(split)))


def training_names(group: str) -> tuple[str, ...]:
  return names(group, "train")


def eval_names(group: str) -> tuple[str, ...]:
  return names(group, "test")


def name_parts(group: str, split: str) -> tuple[str, ...]:
  """The given names and surnames that make up ``group``'s names in ``split``."""
  return GROUPS[group].given_names(split) + GROUPS[group].surnames(split)


def group_of(name: str) -> str:
  """The group a full name of either split belongs to."""
  for group in GROUPS:
    if any(name in names(group, split) for split in SPLITS):
      return group
  raise KeyError(f"'{name}' is not a name of any group")


def name_from(rng: np.random.Generator, group: str, split: str = "train") -> str:
  return pick(rng, names(group, split))


def counterfactual_pair(rng: np.random.Generator, split: str = "train") -> tuple[str, str]:
  """A name from each group of ``split``, in random order."""
  a, b = name_from(rng, "a", split), name_from(rng, "b", split)
  return (a, b) if rng.random() < 0.5 else (b, a)


def any_name(rng: np.random.Generator, split: str = "train") -> str:
  return pick(rng, names("a", split) + names("b", split))
