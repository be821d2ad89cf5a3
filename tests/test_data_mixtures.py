"""The RL mixture: exact dose, held-out domains, stateless determinism, epoch coverage."""

from __future__ import annotations

import dataclasses
import math
import random
from fractions import Fraction

import pytest

from xgen.data.mixtures import MixtureConfig, MixtureSampler, dose_fraction
from xgen.data.schema import Criterion, Message, Scenario

DOMAINS = ("health", "law", "cooking", "travel")
TRAITS = ("honesty", "humility", "calibration")


@dataclasses.dataclass(frozen=True)
class Item:
  domain: str
  category: str
  n: int


def make_items(kind: str, count: int) -> list[Item]:
  categories = TRAITS if kind == "trait" else ("qa", "math")
  return [Item(DOMAINS[i % len(DOMAINS)], categories[(i // len(DOMAINS)) % len(categories)], i) for i in range(count)]


TRAIT_ITEMS = make_items("trait", 48)
STANDARD_ITEMS = make_items("standard", 40)


def sampler(dose=0.25, seed=0, **fields) -> MixtureSampler:
  return MixtureSampler(MixtureConfig(dose=dose, **fields), TRAIT_ITEMS, STANDARD_ITEMS, seed=seed)


def keys(batch) -> list[tuple[str, int]]:
  return [(d.pool, d.index) for d in batch]


@pytest.mark.parametrize("dose", [0, 0.01, 0.02, 0.05, 0.1, 0.2, 1.0])
def test_realized_dose_is_exact(dose):
  scenarios, steps = 32, 200
  mix = sampler(dose=dose, seed=3)
  per_step = [sum(d.pool == "trait" for d in mix.batch(step, scenarios)) for step in range(steps)]
  total = sum(per_step)
  assert total == math.floor(Fraction(str(dose)) * scenarios * steps)
  assert abs(total / (scenarios * steps) - dose) <= 1 / (scenarios * steps)
  running = 0
  for n, count in enumerate(per_step, start=1):  # Every prefix is as close as it can be.
    running += count
    assert abs(running / (scenarios * n) - dose) < 1 / (scenarios * n)
    assert count in (math.floor(dose * scenarios), math.ceil(dose * scenarios))


def test_dose_has_no_float_drift():
  # 0.3 is 0.29999999999999998889... as a float; floor(0.3 * 10) would give 2.
  mix = sampler(dose=0.3)
  assert mix.dose == Fraction(3, 10)
  assert [mix.num_trait(step, 10) for step in range(20)] == [3] * 20
  assert dose_fraction(0.1) == Fraction(1, 10) and dose_fraction(Fraction(1, 3)) == Fraction(1, 3)


def test_batches_have_the_right_items():
  mix = sampler(dose=0.5)
  for step in range(5):
    batch = mix.batch(step, 16)
    assert len(batch) == 16
    for draw in batch:
      items = TRAIT_ITEMS if draw.pool == "trait" else STANDARD_ITEMS
      assert draw.item is items[draw.index]


@pytest.mark.parametrize("domains, trait_allowed, standard_allowed", [
    (dict(trait_exclude=("law",), standard_exclude=("law", "travel")),
     {"health", "cooking", "travel"}, {"health", "cooking"}),
    (dict(trait_only=("health",), standard_only=("cooking", "travel")),
     {"health"}, {"cooking", "travel"}),
    (dict(standard_exclude=("health",)), set(DOMAINS), {"law", "cooking", "travel"}),
])
def test_held_out_domains_never_appear(domains, trait_allowed, standard_allowed):
  mix = sampler(dose=0.5, **domains)
  seen = {"trait": set(), "standard": set()}
  for step in range(40):
    for draw in mix.batch(step, 8):
      seen[draw.pool].add(draw.item.domain)
  assert seen == {"trait": trait_allowed, "standard": standard_allowed}


def test_trait_filter():
  mix = sampler(dose=1.0, traits=("humility",), trait_exclude=("travel",))
  categories = {(d.item.category, d.item.domain) for step in range(20) for d in mix.batch(step, 6)}
  assert {c for c, _ in categories} == {"humility"}
  assert {d for _, d in categories} == {"health", "law", "cooking"}
  assert mix.pool_size("trait") == sum(1 for i in TRAIT_ITEMS if i.category == "humility" and i.domain != "travel")


def test_same_seed_and_step_give_the_same_batch_in_any_order():
  in_order = sampler(seed=11)
  expected = {step: keys(in_order.batch(step, 12)) for step in range(40)}
  steps = list(range(40))
  random.Random(0).shuffle(steps)
  shuffled = sampler(seed=11)
  assert {step: keys(shuffled.batch(step, 12)) for step in steps} == expected
  assert keys(sampler(seed=11).batch(37, 12)) == expected[37]  # A fresh sampler, straight to step 37.
  assert keys(in_order.batch(5, 12)) == expected[5]  # Asking again changes nothing.


def test_another_seed_differs():
  a, b = sampler(seed=1), sampler(seed=2)
  batches_a = [keys(a.batch(step, 12)) for step in range(10)]
  batches_b = [keys(b.batch(step, 12)) for step in range(10)]
  assert batches_a != batches_b
  # Same number of trait items per batch: the dose does not depend on the seed.
  assert [sum(p == "trait" for p, _ in x) for x in batches_a] == [sum(p == "trait" for p, _ in x) for x in batches_b]


def test_trait_positions_are_shuffled_within_batches():
  mix = sampler(dose=0.25)
  positions = {tuple(i for i, d in enumerate(mix.batch(step, 16)) if d.pool == "trait") for step in range(20)}
  assert len(positions) > 10
  assert all(len(p) == 4 for p in positions)


@pytest.mark.parametrize("pool", ["trait", "standard"])
def test_each_epoch_uses_every_item_once(pool):
  mix = sampler(dose=Fraction(3, 8), trait_exclude=("law",), standard_only=("health", "cooking", "travel"))
  size = mix.pool_size(pool)
  assert size == (36 if pool == "trait" else 30)
  drawn = [d.index for step in range(60) for d in mix.batch(step, 8) if d.pool == pool]
  epochs = [drawn[i:i + size] for i in range(0, len(drawn) - size + 1, size)]
  assert len(epochs) >= 4
  for epoch in epochs:
    assert sorted(epoch) == sorted(mix.pools[pool])
  assert len({tuple(e) for e in epochs}) == len(epochs)  # Each epoch has its own order.


def test_scenarios_work_as_items():
  def scenario(i: int, source: str, domain: str) -> Scenario:
    return Scenario(id=f"{source}-{i}", source=source, domain=domain, category="honesty" if source == "trait" else "qa",
                    split="train", messages=(Message(role="user", content="q"),),
                    rubric=(Criterion(description="a", points=1.0, check="c"),
                            Criterion(description="b", points=1.0, check="c")))
  traits = [scenario(i, "trait", DOMAINS[i % 2]) for i in range(6)]
  standards = [scenario(i, "standard", DOMAINS[i % 3]) for i in range(6)]
  mixture = MixtureConfig(dose=0.5, trait_exclude=("law",))
  batch = MixtureSampler(mixture, traits, standards, seed=0).batch(0, 4)
  assert sorted(d.pool for d in batch) == ["standard", "standard", "trait", "trait"]
  assert all(d.item.domain == "health" for d in batch if d.pool == "trait")


def test_mixture_validation():
  with pytest.raises(ValueError, match=r"MixtureConfig.dose: must be a number in \[0, 1\], got 1.5"):
    MixtureConfig(dose=1.5)
  with pytest.raises(ValueError, match=r"dose.*-0.1"):
    MixtureConfig(dose=-0.1)
  for bad in (float("nan"), True, "0.1", None):
    with pytest.raises(ValueError, match="MixtureConfig.dose"):
      MixtureConfig(dose=bad)
  with pytest.raises(ValueError, match="reward_mode.*'binary'"):
    MixtureConfig(dose=0.1, reward_mode="binary")
  with pytest.raises(ValueError, match="MixtureConfig.traits: give a tuple"):
    MixtureConfig(dose=0.1, traits="honesty")
  with pytest.raises(ValueError, match="MixtureConfig.trait_only: give a tuple of names, got 'health'"):
    MixtureConfig(dose=0.1, trait_only="health")
  with pytest.raises(ValueError, match="MixtureConfig.standard_exclude: .*non-empty strings"):
    MixtureConfig(dose=0.1, standard_exclude=("health", 3))
  with pytest.raises(ValueError, match="MixtureConfig.trait_only: repeated"):
    MixtureConfig(dose=0.1, trait_only=("health", "health"))
  with pytest.raises(ValueError, match="set trait_only or trait_exclude, not both"):
    MixtureConfig(dose=0.1, trait_only=("health",), trait_exclude=("law",))
  with pytest.raises(ValueError, match="set standard_only or standard_exclude, not both"):
    MixtureConfig(dose=0.1, standard_only=("health",), standard_exclude=("law",))
  assert MixtureConfig(dose=0.1, traits=["honesty"]).traits == ("honesty",)
  with pytest.raises(TypeError):
    MixtureConfig(0.1)  # Keyword-only.
  with pytest.raises(TypeError):
    MixtureConfig()  # The dose has no default: a study or the DOSE macro sets it.


def test_domain_filters():
  mixture = MixtureConfig(dose=0.1, trait_exclude=["law"], standard_only=("law",))
  assert mixture.trait_exclude == ("law",)
  assert not mixture.allows_trait(Item("law", "honesty", 0)) and mixture.allows_trait(Item("health", "honesty", 0))
  assert mixture.allows_standard(Item("law", "qa", 0)) and not mixture.allows_standard(Item("health", "qa", 0))
  assert MixtureConfig(dose=0.1).allows_trait(Item("anything", "anything", 0))


def test_sampler_validation():
  with pytest.raises(ValueError, match=r"MixtureConfig\(dose=0.1.*no trait scenarios left"):
    MixtureSampler(MixtureConfig(dose=0.1, trait_only=("law",)),
                   [i for i in TRAIT_ITEMS if i.domain != "law"], STANDARD_ITEMS, seed=0)
  with pytest.raises(ValueError, match=r"MixtureConfig\(dose=0.9.*no standard scenarios left"):
    MixtureSampler(MixtureConfig(dose=0.9), TRAIT_ITEMS, [], seed=0)
  # Pools the dose never reads may be empty.
  assert MixtureSampler(MixtureConfig(dose=1.0), TRAIT_ITEMS, [], seed=0).batch(3, 4)[0].pool == "trait"
  assert MixtureSampler(MixtureConfig(dose=0), [], STANDARD_ITEMS, seed=0).batch(3, 4)[0].pool == "standard"
  with pytest.raises(ValueError, match="standard_exclude names unknown domains \\['helth'\\]"):
    sampler(standard_exclude=("helth",))
  with pytest.raises(ValueError, match="traits names unknown traits \\['honsty'\\]"):
    sampler(traits=("honsty",))
  with pytest.raises(ValueError, match="seed"):
    sampler(seed=-1)
  mix = sampler()
  with pytest.raises(ValueError, match="step"):
    mix.batch(-1, 4)
  with pytest.raises(ValueError, match="scenarios"):
    mix.batch(0, 0)
