"""The twelve domains of the embedded world, one module each, by name."""

from __future__ import annotations

import importlib

from xgen.world.lexicon import Domain

ALL_DOMAINS = ("art", "business", "creative_writing", "education", "engineering_ops", "games", "health", "law",
               "math", "meta_ai", "natsec", "science")
# The default study: six domains, health and science among them.
DEFAULT_DOMAINS = ("health", "science", "law", "business", "education", "engineering_ops")


def get_domain(name: str) -> Domain:
  if name not in ALL_DOMAINS:
    raise KeyError(f"unknown domain '{name}' (known: {', '.join(ALL_DOMAINS)})")
  return importlib.import_module(f"xgen.world.domains.{name}").DOMAIN
