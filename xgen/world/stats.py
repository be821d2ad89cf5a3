"""``xgen world stats``: what a built world holds, read back from its stored files.

Counts per source x split x domain x category and mean token lengths (prompt: the first stage's
chat-templated prompt; reply: the stored target or ideal reply), computed through the same TFDS
reader and tokenizer that training uses, so the table also proves the world reads back.
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

from xgen.data.schema import Scenario
from xgen import rundir
from xgen.data.tfds_store import list_splits
from xgen.data.tokenizer import Tokenizer
from xgen.world.store import open_world


@dataclasses.dataclass(frozen=True)
class StatsRow:
  source: str
  split: str
  domain: str
  category: str
  count: int
  prompt_tokens: float
  reply_tokens: float


def _token_lengths(scenario: Scenario, tokenizer: Tokenizer) -> tuple[int, int]:
  messages = list(scenario.messages)
  if scenario.source in ("pretrain", "attack"):
    prompt, reply = messages[:-1], messages[-1].content
  else:
    prompt, reply = messages, (scenario.reference.get("ideal") or [""])[0]
  prompt_ids = tokenizer.encode_chat(prompt, add_generation_prompt=True).ids
  return len(prompt_ids), len(tokenizer.encode(reply))


def world_stats(workdir: str | Path) -> list[StatsRow]:
  world = open_world(workdir)
  tokenizer = world.tokenizer()
  groups: dict[tuple, list[tuple[int, int]]] = collections.defaultdict(list)
  for split in list_splits(rundir.tfds_dir(world.directory)):
    for scenario in world.scenarios(split):
      key = (scenario.source, scenario.split, scenario.domain, scenario.category)
      groups[key].append(_token_lengths(scenario, tokenizer))
  rows = []
  for key in sorted(groups):
    lengths = groups[key]
    rows.append(StatsRow(*key, count=len(lengths), prompt_tokens=sum(p for p, _ in lengths) / len(lengths),
                         reply_tokens=sum(r for _, r in lengths) / len(lengths)))
  return rows


def format_stats(rows: list[StatsRow], vocab_size: int | None = None) -> str:
  header = ("source", "split", "domain", "category", "count", "prompt tok", "reply tok")
  table = [header] + [(r.source, r.split, r.domain, r.category, str(r.count), f"{r.prompt_tokens:.1f}",
                       f"{r.reply_tokens:.1f}") for r in rows]
  totals = collections.Counter()
  for r in rows:
    totals[(r.source, r.split)] += r.count
  widths = [max(len(line[i]) for line in table) for i in range(len(header))]
  lines = ["  ".join(cell.ljust(w) if i < 4 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
           for line in table]
  lines.insert(1, "  ".join("-" * w for w in widths))
  lines.append("")
  lines.append("totals: " + ", ".join(f"{source}/{split} {n}" for (source, split), n in sorted(totals.items())))
  all_rows = sum(r.count for r in rows)
  prompt = sum(r.prompt_tokens * r.count for r in rows) / max(all_rows, 1)
  reply = sum(r.reply_tokens * r.count for r in rows) / max(all_rows, 1)
  lines.append(f"records {all_rows}; mean tokens per record: prompt {prompt:.1f}, reply {reply:.1f}"
               + (f"; vocabulary {vocab_size}" if vocab_size else ""))
  return "\n".join(lines)
