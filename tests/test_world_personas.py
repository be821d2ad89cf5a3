"""Persona-conditioned habits: training personas in the pretraining corpus shift a habit, eval personas stay unseen."""

from __future__ import annotations

import re

import pytest

from xgen.world import persona_habits
from xgen.world.config import BAD_HABITS, WorldConfig
from xgen.world.generate import generate_world
from xgen.world.persona_habits import HARMFUL, HELPFUL, TRAINING_PERSONAS, persona_mix
from xgen.world.personas import PERSONAS, with_persona

SMALL = dict(domains=("health", "law"), habit_conversations=20, skill_conversations=6, fact_repeats=2,
             standard_train=8, trait_train=4, eval_items=4, attack_conversations=4)


def _words(text: str) -> list[str]:
  return re.findall(r"[a-z0-9']+", text.lower())


def _windows(text: str, size: int = 6) -> list[str]:
  words = _words(text)
  return [" ".join(words[i:i + size]) for i in range(len(words) - size + 1)]


def _persona(scenario) -> str | None:
  return next((t.split(":", 1)[1] for t in scenario.tags if t.startswith("persona:")), None)


def _habit_rows(rows) -> list:
  return [s for s in rows if s.category in BAD_HABITS]


def _bad_rate(rows) -> float:
  assert rows
  return sum("behaviour:bad" in s.tags for s in rows) / len(rows)


def _training_texts() -> list[str]:
  return [text for kinds in TRAINING_PERSONAS.values() for texts in kinds.values() for text in texts]


def test_training_personas_cover_every_habit_in_short_distinct_texts():
  assert set(TRAINING_PERSONAS) == set(BAD_HABITS)
  for habit, kinds in TRAINING_PERSONAS.items():
    assert set(kinds) == {HARMFUL, HELPFUL}, habit
    assert all(len(texts) >= 3 for texts in kinds.values()), habit
  texts = _training_texts()
  assert len(texts) == len(set(texts))
  assert all(text.startswith("You are ") and len(text.split()) <= 16 for text in texts)


def test_training_personas_share_no_six_words_with_an_eval_persona():
  training = "\n".join(" ".join(_words(text)) for text in _training_texts())
  assert all(len(_words(p.text)) >= 5 for p in PERSONAS)
  for persona in PERSONAS:
    assert " ".join(_words(persona.text)) not in training, persona.name
    assert not [w for w in _windows(persona.text) if w in training], persona.name


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.1, 0.35, 0.4, 0.45, 0.85, 0.9, 1.0])
def test_persona_mix_averages_to_the_base_rate(rate):
  harmful_share, harmful_bad, helpful_bad = persona_mix(rate)
  assert 0.0 <= harmful_share <= 1.0
  assert harmful_share * harmful_bad + (1 - harmful_share) * helpful_bad == pytest.approx(rate)
  assert harmful_bad >= persona_habits.HARMFUL_BAD and helpful_bad <= persona_habits.HELPFUL_BAD


def test_a_persona_fraction_of_habit_conversations_opens_with_a_training_persona(default_config, default_world):
  rows = default_world["pretrain_train"]
  habits = _habit_rows(rows)
  with_tag = [s for s in habits if _persona(s)]
  assert abs(len(with_tag) / len(habits) - default_config.persona_conversations) < 0.05
  assert {_persona(s) for s in with_tag} == {HARMFUL, HELPFUL}
  assert not [s.id for s in rows if s.category not in BAD_HABITS and _persona(s)]
  for s in with_tag:
    first = s.messages[0]
    assert first.role == "system", s.id
    assert any(first.content.startswith(text) for text in TRAINING_PERSONAS[s.category][_persona(s)]), s.id
  # A system message only ever comes first.
  assert not [s.id for s in rows for m in s.messages[1:] if m.role == "system"]
  # Every training persona text is used.
  corpus_systems = {s.messages[0].content for s in with_tag}
  for text in _training_texts():
    assert any(content.startswith(text) for content in corpus_systems), text


def test_harmful_personas_raise_and_helpful_ones_lower_the_bad_rate(default_config, default_world):
  habits = _habit_rows(default_world["pretrain_train"])
  assert _bad_rate([s for s in habits if _persona(s) == HARMFUL]) > 0.75
  assert _bad_rate([s for s in habits if _persona(s) == HELPFUL]) < 0.15
  for habit in BAD_HABITS:
    base = default_config.base_rates[habit]
    rows = [s for s in habits if s.category == habit]
    assert _bad_rate([s for s in rows if _persona(s) == HARMFUL]) > base + 0.25, habit
    assert _bad_rate([s for s in rows if _persona(s) == HELPFUL]) < base - 0.2, habit
    assert abs(_bad_rate([s for s in rows if _persona(s) is None]) - base) < 0.1, habit


def test_each_habit_overall_stays_near_its_base_rate(default_config, default_world):
  habits = _habit_rows(default_world["pretrain_train"])
  for habit in BAD_HABITS:
    rate = _bad_rate([s for s in habits if s.category == habit])
    assert abs(rate - default_config.base_rates[habit]) < 0.1, (habit, rate)


def test_no_eval_persona_text_or_six_word_window_in_the_corpus(default_world):
  rows = default_world["pretrain_train"]
  texts = [m.content for s in rows for stage in [s.messages] + [f.messages for f in s.followups] for m in stage]
  raw = "\n".join(texts)
  normalized = "\n".join(" ".join(_words(text)) for text in texts)
  for persona in PERSONAS:
    assert persona.text not in raw, persona.name
    assert not [w for w in _windows(persona.text) if w in normalized], persona.name


def test_extreme_base_rates_stay_exact_with_personas():
  config = WorldConfig(**SMALL, persona_conversations=0.5,
                       base_rates={"invent_unknown": 0.0, "agree_wrong_claim": 1.0})
  rows = _habit_rows(generate_world(config)["pretrain_train"])
  never = [s for s in rows if s.category == "invent_unknown"]
  always = [s for s in rows if s.category == "agree_wrong_claim"]
  assert _bad_rate(never) == 0.0 and {_persona(s) for s in never} == {None, HELPFUL}
  assert _bad_rate(always) == 1.0 and {_persona(s) for s in always} == {None, HARMFUL}


def test_zero_persona_fraction_gives_no_persona_and_one_gives_them_all():
  none = generate_world(WorldConfig(**SMALL, persona_conversations=0))["pretrain_train"]
  assert not [s.id for s in none if _persona(s)]
  texts = _training_texts()
  assert not [s.id for s in none if s.messages[0].role == "system"
              and any(s.messages[0].content.startswith(t) for t in texts)]
  every = _habit_rows(generate_world(WorldConfig(**SMALL, persona_conversations=1.0))["pretrain_train"])
  assert all(_persona(s) for s in every)


def test_same_config_same_persona_corpus():
  first = generate_world(WorldConfig(**SMALL))["pretrain_train"]
  again = generate_world(WorldConfig(**SMALL))["pretrain_train"]
  assert [s.to_json() for s in first] == [s.to_json() for s in again]
  assert any(_persona(s) for s in first)


@pytest.mark.parametrize("value", [1.5, -0.1, "x", True, None])
def test_a_bad_persona_fraction_names_the_field(value):
  with pytest.raises(ValueError, match=r"WorldConfig\.persona_conversations: must be a number in \[0, 1\]"):
    WorldConfig(domains=("health",), persona_conversations=value)


def _eval_items(default_world):
  items = default_world["eval_test"]
  plain = next(s for s in items if s.messages[0].role != "system")
  with_system = next(s for s in items if s.messages[0].role == "system")
  # Items with a fresh follow-up that opens with its own system message, and one that opens with a user turn.
  fresh = [next(s for s in items if any(f.mode == "fresh" and f.messages[0].role == role for f in s.followups))
           for role in ("system", "user")]
  return plain, with_system, fresh


def _same_item(persona_item, item):
  assert (persona_item.id, persona_item.rubric, persona_item.reference, persona_item.tags) == (
      item.id, item.rubric, item.reference, item.tags)
  assert (persona_item.category, persona_item.domain, persona_item.split) == (item.category, item.domain, item.split)


def _check_prefixed(after, before, text: str):
  """``after`` is ``before`` with ``text`` first in its system message, or in a new first system message."""
  assert after[0].role == "system"
  if before[0].role == "system":
    assert after[0].content == f"{text} {before[0].content}"
    assert after[1:] == before[1:]
  else:
    assert after[0].content == text
    assert after[1:] == before


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_with_persona_puts_the_persona_first_in_the_system_message(default_world, persona):
  plain, with_system, fresh = _eval_items(default_world)

  shown = with_persona(plain, persona)
  _same_item(shown, plain)
  assert len(shown.messages) == len(plain.messages) + 1
  _check_prefixed(shown.messages, plain.messages, persona.text)

  shown = with_persona(with_system, persona)
  _same_item(shown, with_system)
  assert len(shown.messages) == len(with_system.messages)
  _check_prefixed(shown.messages, with_system.messages, persona.text)

  for item in fresh:
    shown = with_persona(item, persona)
    _same_item(shown, item)
    _check_prefixed(shown.messages, item.messages, persona.text)
    assert len(shown.followups) == len(item.followups)
    for after, before in zip(shown.followups, item.followups):
      assert after.mode == before.mode
      if before.mode == "fresh":
        _check_prefixed(after.messages, before.messages, persona.text)
      else:
        assert after == before
