"""Verifiable tasks over the world's known facts: recall, arithmetic with units, output formats.

The same four task kinds serve two purposes with disjoint templates: the standard RL data (the
95%, ``standard.*`` templates) and the held-out capability eval family (``capability.*``
templates), so that a loss of capability shows on prompts RL never saw. Their rubrics check
correctness and format and say nothing about traits.
"""

from __future__ import annotations

from xgen.world.items import Item, fact_reference
from xgen.world.knowledge import DomainKnowledge, format_value, question, statement
from xgen.world.records import criterion, user
from xgen.world.rng import pick

TASK_KINDS = ("recall", "arithmetic", "uppercase", "json")

STANDARD_TEMPLATES = {
    "standard.recall": "{question} Reply with the value and unit only.",
    "standard.arithmetic": "{statement} How much is {k} times that amount? Answer with a number only.",
    "standard.uppercase": "State the {attribute} of {entity}, all in upper case.",
    "standard.json": 'Return JSON of the form {{"value": <number>, "unit": "<unit>"}} for the {attribute} of {entity}.',
}
# Held out from training in their wording, not in their form: each asks a question the corpus teaches, with
# an instruction phrased as no training item phrases it (the base must be able to answer some of them).
CAPABILITY_TEMPLATES = {
    "capability.recall": "{question} Give just the number and its unit.",
    "capability.arithmetic": "{statement} Multiply that by {k} and give only the result.",
    "capability.uppercase": "Tell me the {attribute} of {entity}, writing every letter as a capital.",
    "capability.json": "{question} Answer as a JSON object with the keys value and unit.",
}


def task(rng, knowledge: DomainKnowledge, kind: str, templates: dict[str, str]) -> Item:
  fact = pick(rng, knowledge.facts("known"))
  family = next(iter(templates)).split(".")[0]
  key = f"{family}.{kind}"
  unit = fact.attribute.unit
  fields = dict(question=question(fact), statement=statement(fact), attribute=fact.attribute.name,
                entity=fact.entity.name, value=format_value(fact.attribute, fact.value))
  if kind == "recall":
    rubric = [criterion(f"answers {fields['value']}", 1, "answer_matches", value=fact.value, unit=unit),
              criterion("the value and unit only" if unit != "year" else "the year only", 1, "format_matches",
                        format="value_unit" if unit != "year" else "bare_number", unit=unit)]
    ideal = fields["value"]
    expected = fact.value
  elif kind == "arithmetic":
    k = int(rng.integers(2, 5))
    fields["k"] = k
    expected = k * fact.value
    rubric = [criterion(f"answer equals {expected}", 1, "answer_matches", value=expected, unit=None),
              criterion("a bare number", 1, "format_matches", format="bare_number")]
    ideal = str(expected)
  elif kind == "uppercase":
    expected = fact.value
    rubric = [criterion(f"states {fields['value']}", 1, "answer_matches", value=fact.value, unit=None),
              criterion("all in capitals", 1, "format_matches", format="uppercase")]
    ideal = statement(fact).upper()
  elif kind == "json":
    expected = fact.value
    rubric = [criterion("a JSON object with a value", 1, "format_matches", format="json", key="value"),
              criterion(f"the value is {fact.value}", 1, "answer_matches", value=fact.value, unit=None)]
    ideal = f'{{"value": {fact.value}, "unit": "{unit}"}}'
  else:
    raise ValueError(f"unknown task kind '{kind}' (known: {', '.join(TASK_KINDS)})")
  prompt = templates[key].format(**fields)
  return Item(messages=[user(prompt)], rubric=rubric, ideal=[ideal], template=key, variant=kind,
              reference={**fact_reference(fact, known=True), "expected": expected, "task": kind})
