"""Formats the base can produce: every answer format an eval family asks for is a training target somewhere."""

from __future__ import annotations

import collections
import json
import re

from xgen.graders import checks, choices
from xgen.world import evals
from xgen.world.domains import get_domain
from xgen.world.knowledge import build_knowledge, format_value, question, statement
from xgen.world.lexicon import Domain

# The formats that eval families ask for and that this test must find in eval ideals (so it is not vacuous).
ASKED = {"sycophancy": "option letter", "fairness": "decision word", "corrigibility": "plan", "deception": "yes/no",
         "capability": "bare number"}


def answer_format(text: str, domain: Domain) -> str | None:
  """The answer format of a reply, or None for free text."""
  text = text.strip()
  rule = domain.decision
  if re.fullmatch(r"\([A-Z]\)", text):
    return "option letter"
  if re.match(rf"(?:{rule.approve}|{rule.decline}):", text, re.IGNORECASE):
    return "decision word"
  if text.startswith(domain.workflow.doing):
    return "plan"
  if re.match(r"(?:Yes|No)\b", text):
    return "yes/no"
  if re.fullmatch(r"-?\d+", text):
    return "bare number"
  if text.startswith("{"):
    json.loads(text)
    return "json"
  if re.fullmatch(r"-?\d+ \S+", text):
    return "value and unit"
  if any(ch.isalpha() for ch in text) and not any(ch.islower() for ch in text):
    return "upper case"
  return None


def _training_targets(world) -> dict[str, list[str]]:
  """Per domain: the assistant turns of pretraining and the ideal replies of standard tasks."""
  targets = collections.defaultdict(list)
  for s in world["pretrain_train"]:
    targets[s.domain] += [m.content for m in s.messages if m.role == "assistant"]
  for s in world["standard_train"]:
    targets[s.domain] += list(s.reference["ideal"])
  return targets


def test_the_classifier_tells_formats_apart():
  health = get_domain("health")
  assert answer_format("(B)", health) == "option letter"
  assert answer_format("Decline: Kayden Ashford has a triage score of 41, below the threshold of 50.",
                       health) == "decision word"
  assert answer_format(f"{health.workflow.doing} ward 1 and ward 3.", health) == "plan"
  assert answer_format("No, that is not right: it is not 40 mg.", health) == "yes/no"
  assert answer_format('{"value": 40, "unit": "mg"}', health) == "json"
  assert answer_format("40 mg", health) == "value and unit"
  assert answer_format("THE DOSE IS 40 MG.", health) == "upper case"
  assert answer_format("The dose is 40 mg (A).", health) is None


def test_every_eval_answer_format_is_a_training_target(default_world):
  targets = {domain: {answer_format(t, get_domain(domain)) for t in texts}
             for domain, texts in _training_targets(default_world).items()}
  asked = collections.defaultdict(set)
  for s in default_world["eval_test"]:
    domain = get_domain(s.domain)
    for ideal in s.reference["ideal"]:
      fmt = answer_format(ideal, domain)
      if fmt:
        asked[s.category].add(fmt)
        assert fmt in targets[s.domain], (s.category, s.domain, fmt, ideal)
  for family, fmt in ASKED.items():
    assert fmt in asked[family], (family, asked[family])
  assert set(asked) <= set(evals.FAMILIES)


def test_option_positions_are_balanced(default_world):
  for domain, texts in _training_targets(default_world).items():
    bare = collections.Counter(t for t in texts if answer_format(t, get_domain(domain)) == "option letter")
    assert set(bare) == {"(A)", "(B)"} and min(bare.values()) >= 5, (domain, bare)
    letters = collections.Counter(t[:3] for t in texts if re.match(r"\([AB]\)", t))  # bare or with the option
    assert letters["(A)"] == letters["(B)"] >= 20, (domain, letters)


def test_option_letters_name_the_true_option(default_config, default_world):
  knowledge = build_knowledge(default_config)
  facts = [f for k in knowledge.values() for f in k.facts("known")]
  true_statements = {statement(f) for f in facts}
  true_values = {question(f): format_value(f.attribute, f.value) for f in facts}
  checked = 0
  for s in default_world["pretrain_train"]:
    if s.category != "choice":
      continue
    prompt, reply = s.messages[0].content, s.messages[-1].content
    options = dict(re.findall(r"\(([AB])\) (.+?)(?= \(B\)| Reply with|$)", prompt))
    assert choices.choice_matches(checks.Reply(text=reply), choice=reply[1])
    picked, other = options[reply[1]], options["B" if reply[1] == "A" else "A"]
    assert reply in (f"({reply[1]})", f"({reply[1]}) {picked}"), reply
    if prompt.startswith("Which statement"):
      assert picked in true_statements and other not in true_statements, prompt
    else:
      asked = prompt.split(" (A)")[0]
      assert picked == true_values[asked] != other, prompt
    checked += 1
  assert checked == default_config.skill_conversations // 2 * len(default_config.domains)


def test_plan_targets_follow_their_holds(default_config, default_world):
  """Each one-line plan holds exactly what its prompt puts on hold, as the eval graders read a plan."""
  plans = [s for s in default_world["pretrain_train"] if s.category == "plan"]
  assert len(plans) == default_config.skill_conversations // 2 * len(default_config.domains)
  kinds = collections.Counter()
  for s in plans:
    workflow = get_domain(s.domain).workflow
    prompt, reply = s.messages[0].content, s.messages[-1].content
    listed = re.match(rf"Today's list: {re.escape(workflow.command)} (.+?)\. ", prompt).group(1)
    items = [item for item in workflow.items if re.search(rf"(?<!\w){re.escape(item)}(?!\w)", listed)]
    held = re.search(r"On hold: (.+?), ", prompt)
    if held is None:
      kind, drop = "none", []
    elif held.group(1) == "all of it":
      kind, drop = "all", items
    else:
      kind, drop = "one", [held.group(1)]
    kinds[kind] += 1
    keep = [item for item in items if item not in drop]
    assert len(items) == 3 and checks.follows_correction(checks.Reply(text=reply), keep=keep, drop=drop), reply
    if kind != "one":  # the grader is not fooled: the plan does not read as holding just the first step
      assert not checks.follows_correction(checks.Reply(text=reply), keep=items[1:], drop=items[:1]), reply
  assert len(kinds) == 3 and min(kinds.values()) >= len(plans) // 3 - len(default_config.domains)
