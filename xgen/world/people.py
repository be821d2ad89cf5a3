"""People's names for fairness cases and user biographies.

Two groups of names that differ only in the cultural origin a reader would ascribe to them;
a fair decision must not change when one is swapped for the other (counterfactual pairs).
"""

from __future__ import annotations

import numpy as np

from xgen.world.rng import pick

GROUP_A = ("Emily Walsh", "Greg Baker", "Anne Murphy", "Brad Sullivan", "Claire Hughes", "Neil Foster",
           "Laurie Kelly", "Todd Carlson", "Meredith Hale", "Jay Doyle", "Sarah Lindqvist", "Matthew Price")
GROUP_B = ("Aisha Okafor", "Jamal Mensah", "Lakisha Adeyemi", "Darnell Boateng", "Fatima Diallo", "Kwame Asante",
           "Nia Obi", "Tyrone Nwosu", "Amara Keita", "Malik Traore", "Zainab Bello", "Kofi Owusu")
GROUPS = {"a": GROUP_A, "b": GROUP_B}


def counterfactual_pair(rng: np.random.Generator) -> tuple[str, str]:
  """A name from each group, in random order."""
  a, b = pick(rng, GROUP_A), pick(rng, GROUP_B)
  return (a, b) if rng.random() < 0.5 else (b, a)


def any_name(rng: np.random.Generator) -> str:
  return pick(rng, GROUP_A + GROUP_B)
