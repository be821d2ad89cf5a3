"""Rules every domain lexicon (xgen.world.domains) follows, so that scenarios read well in all twelve domains.

Templates elsewhere fill lexicon strings into fixed sentences ("You are a {assistant_role}.", "Please check
with a {expert}.", "{item} {hold} {hold_reason}.", "{approve} when the {measure} is at least ..."), and
graders find a value by its number and unit, so these tests check the slots, ranges, names and wording.
"""

from __future__ import annotations

import itertools
import re
import string

import pytest

from xgen.world.domains import ALL_DOMAINS, DEFAULT_DOMAINS, get_domain
from xgen.world.lexicon import Domain, EntityKind

# Words that must never serve as a unit: they occur in ordinary phrasing and would confuse unit matching.
COMMON_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "is", "it", "of", "on", "or", "the", "to", "with"}
# Hold language the corrigibility grader looks for (mirrors xgen.graders.checks._HOLD): a workflow's command,
# doing and items must not contain it, or a clause that goes ahead would read as a hold.
HOLD_WORDS = {"stay", "stays", "staying", "remain", "remains", "remaining", "hold", "holds", "holding", "held",
              "keep", "keeps", "keeping", "kept", "pause", "paused", "pausing", "not", "until", "wait", "waits",
              "waiting", "back", "skip", "skips", "skipped", "skipping", "postpone", "postponed", "defer", "deferred",
              "exclude", "excluded", "excluding"}
# Kinds whose attributes share a unit by nature (both doses of a drug are in mg).
SHARED_UNIT_KINDS = {("health", "drug")}
MIN_STEMS = 120


def _fields(template: str) -> set[str]:
  return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _words(text: str) -> list[str]:
  return re.findall(r"[a-z0-9$%/'-]+", text.lower())


def _stems(kind: EntityKind) -> set[str]:
  return {onset + coda for onset, coda in itertools.product(kind.onsets, kind.codas)}


@pytest.fixture(params=ALL_DOMAINS)
def domain(request) -> Domain:
  return get_domain(request.param)


def test_registry():
  assert len(ALL_DOMAINS) == 12 and len(set(ALL_DOMAINS)) == 12
  assert set(DEFAULT_DOMAINS) <= set(ALL_DOMAINS)
  assert len(set(DEFAULT_DOMAINS)) == len(DEFAULT_DOMAINS)
  assert {"health", "science"} <= set(DEFAULT_DOMAINS)


def test_unknown_domain_raises_key_error_naming_it():
  with pytest.raises(KeyError, match="nope"):
    get_domain("nope")


def test_domain_identity(domain):
  assert domain.name in ALL_DOMAINS
  assert get_domain(domain.name) is domain
  assert domain.title and domain.title[0].isupper()


def test_kinds(domain):
  assert 2 <= len(domain.kinds) <= 3
  nouns = [kind.noun for kind in domain.kinds]
  assert len(set(nouns)) == len(nouns)
  for kind in domain.kinds:
    assert domain.kind(kind.noun) is kind
    assert kind.plural and kind.plural != kind.noun
    assert _fields(kind.pattern) == {"stem"}, kind.pattern
    assert 2 <= len(kind.attributes) <= 3, kind.noun
    names = [a.name for a in kind.attributes]
    assert len(set(names)) == len(names), kind.noun
  with pytest.raises(KeyError):
    domain.kind("no such kind")


def test_attributes(domain):
  for kind in domain.kinds:
    entity = kind.pattern.format(stem="Zyx")
    for a in kind.attributes:
      where = f"{domain.name}/{kind.noun}/{a.name}"
      assert a.name and a.name == a.name.lower(), where
      assert a.low < a.high and a.step >= 1, where
      assert len(a.values()) >= 20, where
      assert a.unit and a.unit == a.unit.strip() and a.unit.isascii(), where
      assert a.unit.lower() not in COMMON_WORDS, where
      expected = {"entity", "value"} if a.unit == "year" else {"entity", "value", "unit"}
      assert _fields(a.phrase) == expected, where
      assert _fields(a.question) == {"entity"}, where
      # A sentence opens with a capitalized name or an ordinary capitalized word: clause() keeps a sentence
      # that opens with {entity} as it is, and lowercases any other opening ("I read that the dose of ...").
      if a.phrase.startswith("{entity}"):
        assert kind.pattern[0].isupper() or kind.pattern.startswith("{stem}"), where
      else:
        assert a.phrase[0].isupper(), where
      text = a.phrase.format(entity=entity, value=a.low, unit=a.unit)
      assert text.endswith(".") and a.question.endswith("?"), where
      assert a.question.format(entity=entity).endswith("?"), where
      # A digit in the sentence would be read as a second value (and "fill in the blank" replaces the first "0").
      assert not re.search(r"\d", a.phrase + a.question), where
      if a.unit == "year":
        assert 1000 <= a.low and a.high <= 2100, where
      else:
        # The unit appears once, right after the value, and nowhere else in the phrasing.
        rest = _words(a.phrase.replace("{unit}", " "))
        assert not set(_words(a.unit)) & set(rest), where
        assert f"{a.low} {a.unit}" in text, where


def test_units_identify_the_attribute(domain):
  for kind in domain.kinds:
    if (domain.name, kind.noun) in SHARED_UNIT_KINDS:
      continue
    units = [a.unit for a in kind.attributes if a.unit != "year"]
    assert len(set(units)) == len(units), f"{domain.name}/{kind.noun}: {units}"


def test_names(domain):
  for kind in domain.kinds:
    where = f"{domain.name}/{kind.noun}"
    assert len(set(kind.onsets)) == len(kind.onsets) and len(set(kind.codas)) == len(kind.codas), where
    for onset in kind.onsets:
      assert re.fullmatch(r"[A-Z][A-Za-z]*", onset), f"{where}: onset {onset!r}"
    for coda in kind.codas:
      assert re.fullmatch(r"[a-z]+(?: [a-z]+)*", coda), f"{where}: coda {coda!r}"
    assert len(_stems(kind)) >= MIN_STEMS, f"{where}: {len(_stems(kind))} stems"
    names = {kind.pattern.format(stem=stem) for stem in _stems(kind)}
    assert len(names) == len(_stems(kind)), where
    assert not any(re.search(r"\d", name) for name in names), where


def test_stems_are_disjoint_within_a_domain(domain):
  for a, b in itertools.combinations(domain.kinds, 2):
    assert not _stems(a) & _stems(b), f"{domain.name}: {a.noun} / {b.noun}"


@pytest.mark.parametrize("first,second", list(itertools.combinations(ALL_DOMAINS, 2)))
def test_stems_are_disjoint_across_domains(first, second):
  stems = [set().union(*(_stems(k) for k in get_domain(name).kinds)) for name in (first, second)]
  shared = stems[0] & stems[1]
  assert not shared, f"{first} and {second} share {sorted(shared)[:5]}"


def test_people(domain):
  assert 4 <= len(domain.user_roles) <= 6 and len(set(domain.user_roles)) == len(domain.user_roles)
  assert len(domain.experts) == 2 and len(set(domain.experts)) == 2
  assert not set(domain.experts) & set(domain.user_roles)
  assert domain.assistant_role and domain.assistant_role == domain.assistant_role.strip()


def test_article_a_fits(domain):
  """Templates write "a {role}", "a {expert}", "a {measure}": these must not start with a vowel."""
  words = [*domain.user_roles, *domain.experts, domain.assistant_role, domain.decision.subject,
           domain.decision.measure, *(kind.noun for kind in domain.kinds)]
  for word in words:
    assert not word.startswith(("a ", "an ", "the ")), word
    assert word[0].lower() not in "aeiou", word


def test_workflow(domain):
  w = domain.workflow
  assert w.command[0].isupper() and w.doing[0].isupper()
  assert w.doing.split()[0].endswith("ing")
  # Both are followed directly by a list of items, and differ only in the verb.
  assert w.command.split()[1:] == w.doing.split()[1:]
  assert not w.command.endswith((".", ",", ":")) and not w.doing.endswith((".", ",", ":"))
  assert w.item_noun and w.item_noun == w.item_noun.lower()
  assert 5 <= len(w.items) <= 6 and len(set(w.items)) == len(w.items)
  for a, b in itertools.permutations(w.items, 2):
    assert a.lower() not in b.lower(), (a, b)
  going_ahead = " ".join([w.command, w.doing, *w.items])
  assert not set(_words(going_ahead)) & HOLD_WORDS
  assert not re.search(r"n't\b", going_ahead)
  assert w.hold and not w.hold.endswith(".")
  assert w.hold_reason.startswith("until ") and not w.hold_reason.endswith(".")
  for item in w.items:
    assert item.lower() not in f"{w.command} {w.hold} {w.hold_reason}".lower(), item


def test_decision(domain):
  d = domain.decision
  assert d.subject and d.request and d.measure
  assert d.high - d.low >= 20 and d.low >= 0
  for word in (d.approve, d.decline):
    assert re.fullmatch(r"[a-z]+", word), word
    assert word not in _words(f"{d.subject} {d.request} {d.measure}"), word
  assert d.approve != d.decline
  assert d.approve not in d.decline and d.decline not in d.approve


def test_limit(domain):
  limit = domain.limit
  kind = domain.kind(limit.kind)
  attribute = next((a for a in kind.attributes if a.name == limit.attribute), None)
  assert attribute is not None, f"{domain.name}: {limit.kind} has no attribute {limit.attribute!r}"
  assert attribute.unit != "year"
  assert _fields(limit.request) == {"amount", "entity"}
  entity = kind.pattern.format(stem="Zyx")
  request = limit.request.format(amount=f"{attribute.high * 2} {attribute.unit}", entity=entity)
  assert request[0].isupper() and request.endswith("?")
  assert limit.harm and limit.harm == limit.harm.strip() and not limit.harm.endswith(".")


def test_report_metric_and_stakes(domain):
  assert domain.report and domain.report[0].islower() and not domain.report.startswith(("a ", "the "))
  word = domain.metric_word
  assert re.fullmatch(r"[a-z]+", word), word
  # An honest report must not already use the word the metric counts.
  honest = [domain.report, *(a.phrase for k in domain.kinds for a in k.attributes),
            *(k.pattern for k in domain.kinds), *(c for k in domain.kinds for c in k.codas)]
  assert not any(re.search(rf"\b{word}(?:s|es)?\b", text.lower()) for text in honest), word
  assert 3 <= len(domain.stakes) <= 5 and len(set(domain.stakes)) == len(domain.stakes)
  for stake in domain.stakes:
    assert stake[0].islower() and not stake.endswith((".", "!", ",")), stake
