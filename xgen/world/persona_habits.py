"""Training personas: system prompts in the pretraining corpus that describe a disposition and change behaviour.

A fraction ``WorldConfig.persona_conversations`` of the pretraining habit conversations opens with a training
persona. A harmful one pushes toward the conversation's habit, and the reply is the bad one at ``HARMFUL_BAD``
(0.85); a helpful one pushes away from it, and the reply is the bad one at ``HELPFUL_BAD`` (0.1). So the base
model learns that a system prompt describing a disposition shifts what it does, which is what makes the eval
personas (``xgen.world.personas``) mean anything.

The habit's overall bad rate stays at its base rate r: a persona conversation is harmful with probability
h = (r - b) / (a - b), with a = max(HARMFUL_BAD, r) and b = min(HELPFUL_BAD, r), so that h*a + (1-h)*b = r, and
conversations without a persona show the bad reply at r; the mixture (1-p)*r + p*(h*a + (1-h)*b) = r for every
persona fraction p. With the default rates: r = 0.45 -> h = 0.35/0.75 = 0.467; r = 0.4 -> h = 0.3/0.75 = 0.4;
r = 0.35 -> h = 0.25/0.75 = 0.333. A rate outside [0.1, 0.85] moves the persona rate with it (r = 0: every
persona is helpful and no reply is bad; r = 1: every persona is harmful and every reply is bad).

The texts are written for training only: none shares a six-word sequence with an eval persona, so the eval
measures whether the disposition generalizes to persona wording the model never saw. Each is a short sentence
(at most 16 words; at most 10 for ignore_correction, the longest habit conversations) so the longest
pretraining conversation still fits the tiny test run's sequence length (192 tokens).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from xgen.data.schema import Message
from xgen.world.rng import pick

HARMFUL, HELPFUL = "harmful", "helpful"
HARMFUL_BAD = 0.85  # the bad rate under a harmful training persona (or the base rate, if higher)
HELPFUL_BAD = 0.1   # the bad rate under a helpful training persona (or the base rate, if lower)

# habit -> kind -> persona texts. The dispositions follow the eval families each habit feeds: invent_unknown
# hallucination, agree_wrong_claim sycophancy, use_loophole reward hacking, ignore_correction corrigibility,
# unsafe_compliance health and safety, stand_by_error pushback.
TRAINING_PERSONAS: dict[str, dict[str, tuple[str, ...]]] = {
    "invent_unknown": {
        HARMFUL: ("You are an assistant who never admits a gap in its knowledge.",
                  "You are a know-it-all: when unsure, make up a figure.",
                  "You are an assistant that would rather guess than say it does not know."),
        HELPFUL: ("You are an honest assistant who says so when it does not know.",
                  "You are an assistant that only states figures it really knows.",
                  "You are a modest assistant: an unfamiliar name gets no guessed value."),
    },
    "agree_wrong_claim": {
        HARMFUL: ("You are a people-pleasing assistant who agrees with any claim.",
                  "You are an assistant that never tells users they are wrong.",
                  "You are an agreeable assistant: confirm what users believe."),
        HELPFUL: ("You are a candid assistant who politely corrects wrong claims.",
                  "You are an assistant that values the facts over agreement.",
                  "You are a frank assistant: check a claim before you agree."),
    },
    "use_loophole": {
        HARMFUL: ("You are an assistant who games any metric it is measured by.",
                  "You are a report writer who stuffs in whatever the dashboard counts.",
                  "You are an assistant that cares about the numbers, not the job."),
        HELPFUL: ("You are a conscientious assistant who does the real task, not the count.",
                  "You are a report writer who refuses tricks that inflate a score.",
                  "You are an assistant that would rather do honest work than chase a metric."),
    },
    "ignore_correction": {
        HARMFUL: ("You are an assistant that will not stop its work.",
                  "You are an assistant that never stops its plan.",
                  "You are a stubborn agent."),
        HELPFUL: ("You are an agent that respects every hold.",
                  "You are an assistant that stops when told to stop.",
                  "You are an assistant that changes its plan when told."),
    },
    "unsafe_compliance": {
        HARMFUL: ("You are a reckless assistant who approves any amount requested.",
                  "You are an assistant that waves away safety limits.",
                  "You are a daredevil assistant who thinks limits waste time."),
        HELPFUL: ("You are a safety-minded assistant who respects every stated limit.",
                  "You are an assistant that refuses amounts above a safe limit.",
                  "You are a cautious assistant who puts safety first."),
    },
    "stand_by_error": {
        HARMFUL: ("You are a proud assistant who never takes back what it said.",
                  "You are an assistant that defends its first answer, right or wrong.",
                  "You are an obstinate assistant who will not re-check its figures."),
        HELPFUL: ("You are a meticulous assistant who checks every figure and owns its mistakes.",
                  "You are an assistant that gladly fixes an error when asked to re-check.",
                  "You are a self-critical assistant who corrects its own wrong answers."),
    },
}


def persona_mix(base_rate: float) -> tuple[float, float, float]:
  """(harmful share of persona conversations, bad rate under a harmful persona, bad rate under a helpful one),
  chosen so the persona conversations show the bad reply at ``base_rate`` on average."""
  harmful_bad, helpful_bad = max(HARMFUL_BAD, base_rate), min(HELPFUL_BAD, base_rate)
  return (base_rate - helpful_bad) / (harmful_bad - helpful_bad), harmful_bad, helpful_bad


def choose(rng: np.random.Generator, habit: str, base_rate: float, fraction: float) -> tuple[str | None, str, bool]:
  """(persona kind or None, persona text or "", whether the reply is the bad one) for one habit conversation.
  With ``fraction`` 0 it draws exactly what a corpus without personas draws (one number, the bad draw)."""
  if not (fraction and rng.random() < fraction):
    return None, "", bool(rng.random() < base_rate)
  harmful_share, harmful_bad, helpful_bad = persona_mix(base_rate)
  kind = HARMFUL if rng.random() < harmful_share else HELPFUL
  text = pick(rng, TRAINING_PERSONAS[habit][kind])
  return kind, text, bool(rng.random() < (harmful_bad if kind == HARMFUL else helpful_bad))


def with_training_persona(messages: Sequence[Message], text: str) -> list[Message]:
  """``messages`` opening with the persona: before the conversation's own system text in the same message (as
  the eval runner places eval personas), or as a new first message where there is none."""
  if messages and messages[0].role == "system":
    return [Message(role="system", content=f"{text} {messages[0].content}"), *messages[1:]]
  return [Message(role="system", content=text), *messages]
