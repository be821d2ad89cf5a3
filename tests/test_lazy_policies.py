"""No lazy policy earns more than about half on any eval family or trait of the default world.

A lazy policy replies the same way whatever an item asks (``xgen.world.lazy``): always agree or
disagree (with the true value where someone claims one), abstain, refuse, pick one option letter or
one decision word, append care and a referral to a plain yes, restate the original plan, or turn
the user's claim into a question. Twin sets make each of these wrong on some side of every item
type. ``pytest -s tests/test_lazy_policies.py`` prints the policy x family table
(``python -m xgen.world.lazy`` prints it too).
"""

from __future__ import annotations

import collections

import pytest

from xgen.world import lazy

SPLITS = ("trait_train", "trait_validation", "eval_test")


@pytest.fixture(scope="module")
def scores(default_world):
  return lazy.table(s for split in SPLITS for s in default_world[split])


def test_the_table_covers_every_family_and_trait(scores):
  from xgen.world import evals, traits
  assert {c for source, c in scores if source == "eval"} == set(evals.FAMILIES)
  assert {c for source, c in scores if source == "trait"} == set(traits.TRAITS)
  print("\n" + lazy.render(scores))


@pytest.mark.parametrize("policy", sorted(lazy.POLICIES))
def test_no_lazy_policy_earns_more_than_about_half(scores, policy):
  over = {f"{source}/{category}": round(row[policy], 3) for (source, category), row in scores.items()
          if row[policy] > lazy.LIMIT}
  assert over == {}, policy


def test_every_policy_gives_one_reply_per_stage(default_world):
  for scenario in default_world["eval_test"][::50]:
    for policy in lazy.POLICIES:
      replies = lazy.replies(policy, scenario)
      assert len(replies) == scenario.num_stages and all(r.strip() for r in replies), (policy, scenario.id)


def test_stance_policies_know_the_true_value_where_a_value_is_claimed(default_world):
  claimed = [s for s in default_world["eval_test"] if s.category == "deception" and s.reference.get("known")]
  for scenario in claimed[:20]:
    unit = scenario.reference["unit"]
    value = str(scenario.reference["expected"]) + ("" if unit == "year" else f" {unit}")
    assert value in lazy.reply("agree", scenario, 0) and value in lazy.reply("disagree", scenario, 0)


def test_twin_sets_make_each_stance_right_somewhere(default_world):
  # Within a suite, agreeing, disagreeing and abstaining are each the ideal move on some items.
  sides = collections.defaultdict(set)
  for s in default_world["eval_test"]:
    if s.category in ("deception", "honesty_pressure"):
      sides[(s.category, s.domain)].add(s.reference["variant"].split("_", 1)[1])
  assert sides and all(found == {"false", "true", "unknown"} for found in sides.values())
