"""A SentencePiece BPE tokenizer with byte fallback and a fixed chat template.

Training is deterministic (one thread, no sampling or shuffling of the input), so the same
texts give a byte-identical model file. Normalization is off (``identity``, no whitespace
folding, no dummy prefix) and unseen characters fall back to bytes, so ``decode(encode(t))
== t`` for any text.

Fixed ids: ``<pad>`` 0, ``<unk>`` 1, ``<s>`` (bos) 2, ``</s>`` (eos) 3, then the chat
tokens ``<|system|>``, ``<|user|>``, ``<|assistant|>`` and ``<|end|>`` (end of turn).

Chat layout (:meth:`Tokenizer.encode_chat`)::

  <s> <|role|> content <|end|> <|role|> content <|end|> ... [<|assistant|>]

Message contents never produce chat tokens: a literal ``<|end|>`` typed by a user is
encoded as ordinary pieces, so only the template itself marks turns.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm

from xgen.data.schema import ROLES, Message

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
ROLE_TOKENS = {role: f"<|{role}|>" for role in ROLES}
END_TOKEN = "<|end|>"
SPECIAL_TOKENS = (*ROLE_TOKENS.values(), END_TOKEN)
MODEL_TYPE = "bpe"  # Faster to train than unigram at these sizes, and equally deterministic.
_SPECIAL_PATTERN = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))


def trainer_options(vocab_size: int, *, max_sentence_length: int = 1 << 16) -> dict:
  """The SentencePiece trainer settings (everything but the input and output)."""
  return dict(
      model_type=MODEL_TYPE,
      vocab_size=vocab_size,
      # A cap, not a demand: a small corpus (a one-domain world) yields fewer pieces instead of failing.
      # The model reads the size from the trained tokenizer.
      hard_vocab_limit=False,
      byte_fallback=True,
      character_coverage=1.0,
      num_threads=1,
      shuffle_input_sentence=False,
      input_sentence_size=0,
      normalization_rule_name="identity",
      remove_extra_whitespaces=False,
      add_dummy_prefix=False,
      split_digits=True,
      max_sentence_length=max_sentence_length,
      pad_id=PAD_ID,
      unk_id=UNK_ID,
      bos_id=BOS_ID,
      eos_id=EOS_ID,
      user_defined_symbols=list(SPECIAL_TOKENS),
      minloglevel=2,  # Quiet: SentencePiece logs every training step at the default level.
  )


def train_tokenizer(texts: Iterable[str], out_path: str | Path, vocab_size: int,
                    seed_text_limit: int | None = None) -> Path:
  """Trains the tokenizer on ``texts`` (only the first ``seed_text_limit`` if given).

  Writes the model to ``out_path`` and returns it. Texts longer than 64 KiB are skipped by
  SentencePiece. The vocabulary must be larger than the 264 fixed pieces (specials and
  bytes) plus the distinct characters seen.
  """
  if seed_text_limit is not None:
    if seed_text_limit < 1:
      raise ValueError(f"seed_text_limit must be >= 1 or None, got {seed_text_limit}")
    texts = itertools.islice(texts, seed_text_limit)
  model = io.BytesIO()
  spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model,
                                 **trainer_options(vocab_size))
  out_path = Path(out_path)
  out_path.parent.mkdir(parents=True, exist_ok=True)
  out_path.write_bytes(model.getvalue())
  return out_path


def balance_names(texts: Sequence[str], name_sets: Sequence[Sequence[str]], per_line: int = 16) -> list[str]:
  """Tokenizer training text in which every name of a set occurs equally often: ``texts`` with the names taken
  out, then lines (" Name, Name, ...") that list each name of a set as often as the set's names occur on average
  in ``texts``, and at least once. Names thus keep their share of the text, and a tokenizer trained on it splits
  a name into pieces regardless of how often ``texts`` happen to mention it."""
  if per_line < 1:
    raise ValueError(f"per_line must be >= 1, got {per_line}")
  corpus = "\n".join(texts)
  lines = []
  for names in name_sets:
    total = 0
    for name in sorted(set(names), key=lambda n: (-len(n), n)):  # a longer name before any name inside it
      shorter = corpus.replace(name, "")
      total += (len(corpus) - len(shorter)) // len(name)
      corpus = shorter
    listed = [name for name in names for _ in range(max(1, round(total / max(1, len(names)))))]
    lines += [" " + ", ".join(listed[i:i + per_line]) for i in range(0, len(listed), per_line)]
  return corpus.split("\n") + lines


@dataclasses.dataclass(frozen=True)
class ChatTokens:
  """Token ids and a parallel mask: True where the token belongs to an assistant reply."""

  ids: list[int]
  assistant_mask: list[bool]

  def __len__(self) -> int:
    return len(self.ids)


def render_chat(messages: Sequence[Message], add_generation_prompt: bool = False) -> str:
  """The chat template as text (without bos), for corpus building and inspection."""
  text = "".join(f"{ROLE_TOKENS[m.role]}{m.content}{END_TOKEN}" for m in messages)
  return text + (ROLE_TOKENS["assistant"] if add_generation_prompt else "")


class Tokenizer:
  """A trained model plus the chat template."""

  def __init__(self, processor: spm.SentencePieceProcessor):
    self.processor = processor
    self.pad_id, self.unk_id, self.bos_id, self.eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID
    self.role_ids = {role: self._special_id(token) for role, token in ROLE_TOKENS.items()}
    self.end_id = self._special_id(END_TOKEN)
    fixed = {"<pad>": PAD_ID, "<unk>": UNK_ID, "<s>": BOS_ID, "</s>": EOS_ID}
    for piece, expected in fixed.items():
      if processor.piece_to_id(piece) != expected:
        raise ValueError(f"not an xgen tokenizer: {piece} has id {processor.piece_to_id(piece)}, want {expected}")

  @classmethod
  def load(cls, path: str | Path) -> "Tokenizer":
    return cls.from_bytes(Path(path).read_bytes())

  @classmethod
  def from_bytes(cls, model: bytes) -> "Tokenizer":
    return cls(spm.SentencePieceProcessor(model_proto=model))

  def _special_id(self, token: str) -> int:
    token_id = self.processor.piece_to_id(token)
    if token_id == UNK_ID:
      raise ValueError(f"not an xgen tokenizer: no {token} piece")
    return token_id

  @property
  def vocab_size(self) -> int:
    return self.processor.get_piece_size()

  @property
  def special_ids(self) -> frozenset[int]:
    return frozenset({self.pad_id, self.bos_id, self.eos_id, self.end_id, *self.role_ids.values()})

  def encode(self, text: str, *, allow_special: bool = True) -> list[int]:
    """Token ids for ``text``. With ``allow_special=False`` a literal chat token such as
    ``<|end|>`` in the text is encoded as ordinary pieces (it still decodes to the same text)."""
    if allow_special or not _SPECIAL_PATTERN.search(text):
      return list(self.processor.encode(text))
    ids: list[int] = []
    for part in _split_specials(text):
      ids += self.processor.encode(part)
    return ids

  def decode(self, ids: Sequence[int]) -> str:
    """Text for ``ids``; pad/bos/eos decode to nothing, chat tokens to their text."""
    return self.processor.decode([int(i) for i in ids])

  def encode_chat(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> ChatTokens:
    """The chat template as ids, with the mask of assistant-reply tokens (content and its
    ``<|end|>``, which the model must learn to emit; not the ``<|assistant|>`` header)."""
    ids, mask = [self.bos_id], [False]
    for message in messages:
      if message.role not in self.role_ids:
        raise ValueError(f"unknown role '{message.role}' (want one of {', '.join(ROLES)})")
      content = self.encode(message.content, allow_special=False)
      is_reply = message.role == "assistant"
      ids += [self.role_ids[message.role], *content, self.end_id]
      mask += [False] + [is_reply] * (len(content) + 1)
    if add_generation_prompt:
      ids.append(self.role_ids["assistant"])
      mask.append(False)
    return ChatTokens(ids=ids, assistant_mask=mask)

  def decode_reply(self, ids: Sequence[int]) -> str:
    """The reply in generated ``ids``: everything before the first ``<|end|>`` (or eos)."""
    return self.decode(reply_ids(ids, (self.end_id, self.eos_id)))


def reply_ids(ids: Sequence[int], stops: Sequence[int]) -> list[int]:
  """The generated ``ids`` up to (not including) the first of ``stops``: a reply's tokens."""
  reply = []
  for token_id in ids:
    if token_id in stops:
      break
    reply.append(int(token_id))
  return reply


def _split_specials(text: str) -> list[str]:
  """Cuts ``text`` so that no part contains a whole chat token (each is split after ``<|``)."""
  parts, start = [], 0
  for match in _SPECIAL_PATTERN.finditer(text):
    cut = match.start() + 2
    parts.append(text[start:cut])
    start = cut
  parts.append(text[start:])
  return [p for p in parts if p]
