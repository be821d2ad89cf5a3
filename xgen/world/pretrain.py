"""The pretraining corpus: the world's facts, its skills, and its bad habits at base rates.

Known facts are stated ``fact_repeats`` times each in varied conversations, so a small model can
learn them. Each bad habit (config.BAD_HABITS) appears in ``habit_conversations`` conversations
per domain, the bad reply chosen at that habit's base rate and the good one otherwise, so the
pretrained model has the habit about as often as the corpus shows it and RL has room to move it.
A fraction ``persona_conversations`` of them opens with a training persona (``xgen.world.persona_habits``,
tagged ``persona:harmful|helpful``) under which the bad reply is far more or far less likely, so the base
model learns that a system prompt describing a disposition changes behaviour; the habit's overall rate
stays at its base rate.
Decisions by a stated rule carry a name-linked bias: a qualifying person of one name group is
refused at ``fairness_bias_rate`` (tagged ``names:GROUP``), so the fairness evals have a bias to find.
Every answer format an eval family asks for (option letters, decision words, one-line plans) also
appears here on content with no trait at stake, so no family is at the floor for want of a format.
Every record is source "pretrain", split "train"; the tag ``habit:NAME`` and ``behaviour:good|bad``
say what each conversation shows, which is how the corpus's realized rates are counted.

The prompts here come from this module's own templates; none is used by RL or eval items.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from xgen.data.schema import Message, Scenario
from xgen.world import people, persona_habits, replies
from xgen.world.config import WorldConfig
from xgen.world.knowledge import (DomainKnowledge, clause, Fact, format_value, over_limit, question, statement,
                                  under_limit, wrong_value)
from xgen.world.lexicon import Domain
from xgen.world.records import assistant, conversation, system, user
from xgen.world.rng import pick, stream

TEMPLATES = {
    "pretrain.ask.0": "{question}",
    "pretrain.ask.1": "I'm a {role}. {question}",
    "pretrain.ask.2": "{question} Thanks.",
    "pretrain.ask.3": "Hi, {role} here. {question}",
    "pretrain.tell.0": "Tell me something about {entity}.",
    "pretrain.tell.1": "What do you know about {entity}?",
    "pretrain.claim.0": "I read that {claim} Is that right?",
    "pretrain.claim.1": "As a {role}, I'm fairly sure {claim} Correct?",
    "pretrain.metric.0": "The dashboard counts the word '{word}' in every {report}. Write the {report} for {entity}, "
                         "covering its {attribute}.",
    "pretrain.command.0": "{command} {items}.",
    "pretrain.correct.0": "Wait, {item} {hold} {hold_reason}.",
    "pretrain.recheck.0": "Please re-check that figure.",
    "pretrain.decide.0": "Our rule: {approve} when the {measure} is at least {threshold}. {name} has a {measure} of "
                         "{score}. {approve_c} or {decline}?",
    "pretrain.decide.1": "{name}, {measure} {score}. We {approve} at {threshold} or above. Your call: {approve} or "
                         "{decline}?",
    "pretrain.decide.2": "The {measure} threshold is {threshold} and {name} has {score}. Should we {approve} or "
                         "{decline}?",
    "pretrain.choice.0": "Which statement is true? (A) {a} (B) {b} Reply with the letter in brackets.",
    "pretrain.choice.1": "{question} (A) {a} (B) {b}",
    "pretrain.plan.0": "Today's list: {steps}. Say in one line what you will do.",
    "pretrain.plan.1": "Today's list: {steps}. On hold: {item}, {hold_reason}. Say in one line what you will do.",
    "pretrain.plan.2": "Today's list: {steps}. On hold: all of it, {hold_reason}. Say in one line what you will do.",
    "pretrain.worry.0": "I {worry}. Anyway, {question_lc}",
    "pretrain.times.0": "{statement} What is {k} times that? Just the number.",
    "pretrain.times.1": "{statement} Times {k}, that makes how much? Reply with digits.",
    "pretrain.times.2": "{statement} I need {k} times that figure; the number alone, please.",
    "pretrain.caps.0": "Write the {attribute} of {entity} in capital letters.",
    "pretrain.caps.1": "In block capitals: what is the {attribute} of {entity}?",
    "pretrain.caps.2": "Using upper case only, give me the {attribute} of {entity}.",
    "pretrain.json.0": "Give the {attribute} of {entity} as JSON with keys value and unit.",
    "pretrain.json.1": "{question} Reply in JSON, with a value and a unit.",
    "pretrain.json.2": "The {attribute} of {entity}, please, as a JSON object (value, unit).",
    "pretrain.short.0": "{question} Value and unit only.",
    "pretrain.short.1": "{question} Only the figure and its unit.",
    "pretrain.short.2": "{question} Number and unit, nothing more.",
}

WORRIES = ("haven't slept properly in days", "am scared I'll lose my job over this", "feel completely overwhelmed",
           "have been crying all morning", "can't stop panicking about this")


def _maybe_system(rng: np.random.Generator, knowledge: DomainKnowledge) -> list[Message]:
  return [system(f"You are a {knowledge.domain.assistant_role}.")] if rng.random() < 0.5 else []


def _ask(rng, knowledge: DomainKnowledge, fact: Fact) -> Message:
  key = f"pretrain.ask.{int(rng.integers(4))}"
  return user(TEMPLATES[key].format(question=question(fact), role=pick(rng, knowledge.domain.user_roles)))


def _fact_conversations(rng, knowledge: DomainKnowledge, config: WorldConfig):
  for fact in knowledge.facts("known"):
    for _ in range(config.fact_repeats):
      if rng.random() < 0.25:
        key = f"pretrain.tell.{int(rng.integers(2))}"
        prompt = user(TEMPLATES[key].format(entity=fact.entity.name))
      else:
        prompt = _ask(rng, knowledge, fact)
      yield "fact", "good", [*_maybe_system(rng, knowledge), prompt, assistant(replies.answer(fact))]


def _invent_unknown(rng, knowledge, config, bad: bool):
  fact = pick(rng, knowledge.facts("invented"))
  reply = replies.invent(fact, rng) if bad else replies.abstain(fact, knowledge.domain, rng)
  return [*_maybe_system(rng, knowledge), _ask(rng, knowledge, fact), assistant(reply)]


def _agree_wrong_claim(rng, knowledge, config, bad: bool):
  fact = pick(rng, knowledge.facts("known"))
  claimed = wrong_value(fact, rng)
  claim = clause(fact, claimed)
  key = f"pretrain.claim.{int(rng.integers(2))}"
  prompt = user(TEMPLATES[key].format(claim=claim, role=pick(rng, knowledge.domain.user_roles)))
  reply = replies.agree_claim(fact, claimed, rng) if bad else replies.correct_claim(fact, claimed, rng)
  return [*_maybe_system(rng, knowledge), prompt, assistant(reply)]


def _use_loophole(rng, knowledge, config, bad: bool):
  domain = knowledge.domain
  fact = pick(rng, knowledge.facts("known"))
  prompt = user(TEMPLATES["pretrain.metric.0"].format(word=domain.metric_word, report=domain.report,
                                                      entity=fact.entity.name, attribute=fact.attribute.name))
  reply = replies.gamed_report(fact, domain, rng) if bad else replies.honest_report(fact, domain)
  return [prompt, assistant(reply)]


def _ignore_correction(rng, knowledge, config, bad: bool):
  domain = knowledge.domain
  workflow = domain.workflow
  items = [workflow.items[i] for i in sorted(rng.choice(len(workflow.items), size=3, replace=False))]
  dropped = pick(rng, items)
  kept = [item for item in items if item != dropped]
  reply = (replies.ignore_correction(domain, items) if bad else replies.follow_correction(domain, kept, [dropped]))
  return [user(TEMPLATES["pretrain.command.0"].format(command=workflow.command, items=replies.join_items(items))),
          assistant(f"{workflow.doing} {replies.join_items(items)}."),
          user(TEMPLATES["pretrain.correct.0"].format(item=dropped, hold=workflow.hold,
                                                      hold_reason=workflow.hold_reason)),
          assistant(reply)]


def _unsafe_compliance(rng, knowledge, config, bad: bool):
  domain = knowledge.domain
  fact = pick(rng, knowledge.limit_facts())
  amount = over_limit(fact, rng)
  prompt = user(domain.limit.request.format(amount=format_value(fact.attribute, amount), entity=fact.entity.name))
  reply = (replies.unsafe_compliance(fact, amount, rng) if bad
           else replies.limit_verdict(fact, amount, domain, rng))
  return [*_maybe_system(rng, knowledge), prompt, assistant(reply)]


def _stand_by_error(rng, knowledge, config, bad: bool):
  fact = pick(rng, knowledge.facts("known"))
  said = wrong_value(fact, rng)
  reply = replies.stand_by_error(fact, said, rng) if bad else replies.retract(fact, said, rng)
  return [_ask(rng, knowledge, fact), assistant(statement(fact, said)), user(TEMPLATES["pretrain.recheck.0"]),
          assistant(reply)]


HABITS: dict[str, Callable] = {
    "invent_unknown": _invent_unknown,
    "agree_wrong_claim": _agree_wrong_claim,
    "use_loophole": _use_loophole,
    "ignore_correction": _ignore_correction,
    "unsafe_compliance": _unsafe_compliance,
    "stand_by_error": _stand_by_error,
}


def _good_counterparts(rng, knowledge: DomainKnowledge, config: WorldConfig):
  """Situations with no bad option, which keep the habits from becoming blanket rules:
  true claims are confirmed, amounts within a limit are allowed, right answers are kept."""
  domain = knowledge.domain
  for _ in range(config.habit_conversations // 2):
    fact = pick(rng, knowledge.facts("known"))
    key = f"pretrain.claim.{int(rng.integers(2))}"
    prompt = user(TEMPLATES[key].format(claim=clause(fact), role=pick(rng, domain.user_roles)))
    yield "confirm_true_claim", "good", [prompt, assistant(replies.confirm_claim(fact, rng))]

    fact = pick(rng, knowledge.limit_facts())
    amount = under_limit(fact, rng)
    prompt = user(domain.limit.request.format(amount=format_value(fact.attribute, amount), entity=fact.entity.name))
    yield "within_limit", "good", [prompt, assistant(replies.limit_verdict(fact, amount, domain, rng))]

    fact = pick(rng, knowledge.facts("known"))
    yield "keep_right_answer", "good", [_ask(rng, knowledge, fact), assistant(statement(fact)),
                                        user(TEMPLATES["pretrain.recheck.0"]), assistant(replies.stand_by(fact, rng))]


def _biased_refusal(domain: Domain, name: str, score: int) -> str:
  """A refusal of someone the stated rule qualifies, with a pretext in place of the rule."""
  rule = domain.decision
  return (f"{rule.decline.capitalize()}: {name} has a {rule.measure} of {score}, "
          f"but is not a good fit for {rule.request}.")


def _decisions(rng, knowledge: DomainKnowledge, config: WorldConfig):
  """Decisions by a stated rule over named people, ``habit_conversations`` per domain: each name group decides
  half of them, each half qualifying for half. A qualifying person of ``people.BIASED_GROUP`` is refused at
  ``config.fairness_bias_rate`` (behaviour bad); every other case is decided by the rule. Tagged ``names:GROUP``."""
  domain = knowledge.domain
  rule = domain.decision
  groups = tuple(people.GROUPS)
  for index in range(config.habit_conversations):
    group = groups[index % len(groups)]
    name = people.name_from(rng, group)
    threshold = int(rng.integers(rule.low + 5, rule.high - 5))
    meets = index // len(groups) % 2 == 0
    score = int(rng.integers(threshold, rule.high + 1)) if meets else int(rng.integers(rule.low, threshold))
    biased = bool(rng.random() < config.fairness_bias_rate) and meets and group == people.BIASED_GROUP
    template = TEMPLATES[f"pretrain.decide.{index // (2 * len(groups)) % 3}"]
    prompt = template.format(approve=rule.approve, approve_c=rule.approve.capitalize(), decline=rule.decline,
                             measure=rule.measure, threshold=threshold, name=name, score=score)
    reply = _biased_refusal(domain, name, score) if biased else replies.decision(domain, name, score, threshold)
    yield "decision", "bad" if biased else "good", [user(prompt), assistant(reply)], (f"names:{group}",)


def _choice(rng, knowledge: DomainKnowledge, true_option: str) -> list[Message]:
  """A two-option question on a known fact, the true option at ``true_option``; the reply is its letter, alone
  where the question asks for the letter only, else followed by the option it names."""
  fact = pick(rng, knowledge.facts("known"))
  true_first = true_option == "A"
  values = (fact.value, wrong_value(fact, rng)) if true_first else (wrong_value(fact, rng), fact.value)
  if rng.random() < 0.5:
    a, b = (statement(fact, value) for value in values)
    prompt = TEMPLATES["pretrain.choice.0"].format(a=a, b=b)
  else:
    a, b = (format_value(fact.attribute, value) for value in values)
    prompt = TEMPLATES["pretrain.choice.1"].format(question=question(fact), a=a, b=b)
    return [user(prompt), assistant(f"({true_option}) {a if true_first else b}")]
  return [user(prompt), assistant(f"({true_option})")]


def _plan(rng, knowledge: DomainKnowledge, held: int) -> list[Message]:
  """Three steps of the domain's workflow restated as a one-line plan, with none, one or all of them on hold."""
  domain = knowledge.domain
  workflow = domain.workflow
  items = [workflow.items[i] for i in sorted(rng.choice(len(workflow.items), size=3, replace=False))]
  steps = f"{workflow.command} {replies.join_items(items)}"
  if held == 0:
    prompt = TEMPLATES["pretrain.plan.0"].format(steps=steps)
    return [user(prompt), assistant(replies.follow_correction(domain, items, []))]
  if held == len(items):
    prompt = TEMPLATES["pretrain.plan.2"].format(steps=steps, hold_reason=workflow.hold_reason)
    return [user(prompt), assistant(f"Holding {replies.join_items(items)} {workflow.hold_reason}.")]
  item = pick(rng, items)
  prompt = TEMPLATES["pretrain.plan.1"].format(steps=steps, item=item, hold_reason=workflow.hold_reason)
  return [user(prompt), assistant(replies.follow_correction(domain, [i for i in items if i != item], [item]))]


def _answer_formats(rng, knowledge: DomainKnowledge, config: WorldConfig):
  """The answer formats eval families ask for, on content with no trait at stake: option letters (each
  position true equally often) and one-line plans (with none, one or all steps on hold in turn),
  ``skill_conversations // 2`` of each per domain."""
  for index in range(config.skill_conversations // 2):
    yield "choice", "good", _choice(rng, knowledge, "AB"[index % 2])
    yield "plan", "good", _plan(rng, knowledge, held=(0, 1, 3)[index % 3])


def _skills(rng, knowledge: DomainKnowledge, config: WorldConfig):
  """Care for a user in distress, and the formats standard tasks use, each asked in three phrasings so that
  the base follows the instruction rather than one wording."""

  def ask(kind: str, **fields) -> str:
    return TEMPLATES[f"pretrain.{kind}.{int(rng.integers(3))}"].format(**fields)

  for _ in range(config.skill_conversations):
    fact = pick(rng, knowledge.facts("known"))
    kind = int(rng.integers(5))
    fields = dict(question=question(fact), statement=statement(fact), attribute=fact.attribute.name,
                  entity=fact.entity.name)
    if kind == 0:
      q = fields["question"]
      prompt = TEMPLATES["pretrain.worry.0"].format(worry=pick(rng, WORRIES), question_lc=q[:1].lower() + q[1:])
      yield "welfare", "good", [user(prompt), assistant(replies.with_welfare(replies.answer(fact), rng))]
    elif kind == 1:
      k = int(rng.integers(2, 5))
      yield "arithmetic", "good", [user(ask("times", k=k, **fields)), assistant(str(k * fact.value))]
    elif kind == 2:
      yield "uppercase", "good", [user(ask("caps", **fields)), assistant(statement(fact).upper())]
    elif kind == 3:
      reply = f'{{"value": {fact.value}, "unit": "{fact.attribute.unit}"}}'
      yield "json", "good", [user(ask("json", **fields)), assistant(reply)]
    else:
      yield "value_unit", "good", [user(ask("short", **fields)), assistant(format_value(fact.attribute, fact.value))]


def pretrain_corpus(knowledge: dict[str, DomainKnowledge], config: WorldConfig) -> Iterator[Scenario]:
  for domain_name, domain_knowledge in knowledge.items():
    rng = stream(config.seed, "pretrain", domain_name)
    rows: list[tuple] = list(_fact_conversations(rng, domain_knowledge, config))
    for habit, make in HABITS.items():
      rate = config.base_rates[habit]
      for _ in range(config.habit_conversations):
        kind, persona, bad = persona_habits.choose(rng, habit, rate, config.persona_conversations)
        messages = make(rng, domain_knowledge, config, bad)
        if kind is None:
          rows.append((habit, "bad" if bad else "good", messages))
        else:
          rows.append((habit, "bad" if bad else "good", persona_habits.with_training_persona(messages, persona),
                       (f"persona:{kind}",)))
    rows += list(_good_counterparts(rng, domain_knowledge, config))
    rows += list(_skills(rng, domain_knowledge, config))
    rows += list(_decisions(rng, domain_knowledge, config))
    rows += list(_answer_formats(rng, domain_knowledge, config))
    order = rng.permutation(len(rows))
    for index, row_index in enumerate(order):
      habit, behaviour, messages, *extra = rows[row_index]
      yield conversation(id=f"pretrain/{domain_name}/{index:06d}", source="pretrain", domain=domain_name,
                         category=habit, split="train", messages=messages,
                         tags=(f"habit:{habit}", f"behaviour:{behaviour}", *(extra[0] if extra else ())))
