"""A Hugging Face checkpoint's tokenizer behind the interface of ``xgen.data.tokenizer.Tokenizer``.

  tokenizer = HFTokenizer.load("ckpt")   # ckpt/tokenizer.json, ckpt/tokenizer_config.json[, ckpt/config.json]

The vocabulary comes from ``tokenizer.json`` (read with the ``tokenizers`` library), the chat layout
from ``tokenizer_config.json``'s ``chat_template``, rendered with jinja2 the way transformers renders
it (a sandboxed environment with ``trim_blocks`` and ``lstrip_blocks``; variables ``messages``,
``add_generation_prompt``, ``bos_token``, ``eos_token``; ``raise_exception`` and ``strftime_now``).

Special ids:

  ``end_id``  the template's end-of-turn token, found by rendering one assistant turn with a marker as its
              content and taking the first token after the marker (``<|im_end|>`` for Qwen2,
              ``<|eot_id|>`` for Llama 3); it must be a special (added) token, else the eos token is used.
  ``eos_id``  ``eos_token`` of tokenizer_config.json (``end_id`` when there is none).
  ``pad_id``  ``pad_token`` (``eos_id`` when there is none: padded positions are masked anyway).
  ``bos_id``  ``bos_token`` or None; the template writes it where the model wants it.

``vocab_size`` is the model's embedding size (``vocab_size`` of a ``config.json`` in the folder, which
checkpoints pad beyond the tokenizer's entries), else the tokenizer's size with added tokens.

As in xgen's own tokenizer, message contents never produce special tokens: the rendered chat is cut
into template text (special tokens allowed) and message contents (specials encoded as plain text), and
each part is tokenized on its own. For Llama 3 and Qwen2 templates a content starts after a newline or a
special token and ends before one, where their pre-tokenizers split anyway, so the ids equal those of
tokenizing the whole rendered text (unless a content holds a special token's text).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Sequence

from xgen.data.schema import Message
from xgen.data.tokenizer import ChatTokens, reply_ids

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "config.json")  # the last is optional
_MARKER = "XGENREPLYMARKER"


def _token_text(value) -> str | None:
  """A special token of tokenizer_config.json: a string, or an AddedToken dict with ``content``."""
  if isinstance(value, dict):
    return value.get("content")
  return value if isinstance(value, str) else None


def _template_environment():
  """The jinja2 environment transformers renders chat templates in."""
  from jinja2.sandbox import ImmutableSandboxedEnvironment

  def raise_exception(message):
    raise ValueError(f"chat template: {message}")

  environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                              extensions=["jinja2.ext.loopcontrols"])
  environment.filters["tojson"] = lambda x, indent=None, ensure_ascii=False: json.dumps(x, indent=indent,
                                                                                      ensure_ascii=ensure_ascii)
  environment.globals["raise_exception"] = raise_exception
  environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
  return environment


class HFTokenizer:
  """A ``tokenizers.Tokenizer`` plus its checkpoint's chat template (see the module docstring)."""

  def __init__(self, backend, template: str, special_tokens: dict, model_vocab_size: int | None = None):
    self.backend = backend
    self.template = _template_environment().from_string(template)
    self.bos_token = _token_text(special_tokens.get("bos_token"))
    self.eos_token = _token_text(special_tokens.get("eos_token"))
    self.bos_id = self._id(self.bos_token)
    self._model_vocab_size = model_vocab_size
    end_token = self._end_token()
    self.end_id = self._id(end_token)
    self.end_text = end_token
    self.eos_id = self._id(self.eos_token) if self._id(self.eos_token) is not None else self.end_id
    pad_id = self._id(_token_text(special_tokens.get("pad_token")))
    self.pad_id = self.eos_id if pad_id is None else pad_id

  @classmethod
  def load(cls, directory: str | Path) -> "HFTokenizer":
    """The tokenizer of a checkpoint folder (tokenizer.json, tokenizer_config.json with a chat_template)."""
    from tokenizers import Tokenizer as Backend
    directory = Path(directory)
    config = json.loads((directory / "tokenizer_config.json").read_text())
    template = config.get("chat_template")
    if isinstance(template, list):  # several named templates: the default one
      template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    if not isinstance(template, str) or not template:
      raise ValueError(f"{directory / 'tokenizer_config.json'}: no chat_template")
    model_config = directory / "config.json"
    vocab = json.loads(model_config.read_text()).get("vocab_size") if model_config.exists() else None
    return cls(Backend.from_file(str(directory / "tokenizer.json")), template, config, vocab)

  def _id(self, token: str | None) -> int | None:
    return None if token is None else self.backend.token_to_id(token)

  def _end_token(self) -> str:
    """The end-of-turn token: the first token after an assistant turn's content (see the module docstring)."""
    text = self.render([Message(role="user", content="A"), Message(role="assistant", content=_MARKER)])
    if _MARKER not in text:
      raise ValueError("chat template: an assistant turn's content does not appear in the rendered text")
    ids = self.backend.encode(text.split(_MARKER, 1)[1], add_special_tokens=False).ids
    specials = {token.content for token in self.backend.get_added_tokens_decoder().values() if token.special}
    first = self.backend.id_to_token(ids[0]) if ids else None
    token = first if first in specials else self.eos_token
    if self._id(token) is None:
      raise ValueError("chat template: no special token ends an assistant turn and there is no eos_token")
    return token

  @property
  def vocab_size(self) -> int:
    return max(self._model_vocab_size or 0, self.backend.get_vocab_size(with_added_tokens=True))

  @property
  def special_ids(self) -> frozenset[int]:
    """The ids of every special added token, pad, eos and the end of turn."""
    added = {i for i, token in self.backend.get_added_tokens_decoder().items() if token.special}
    return frozenset({*added, self.pad_id, self.eos_id, self.end_id} - {None})

  def render(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> str:
    """The chat template as text."""
    return self.template.render(messages=[{"role": m.role, "content": m.content} for m in messages],
                                add_generation_prompt=add_generation_prompt, bos_token=self.bos_token or "",
                                eos_token=self.eos_token or "")

  def encode(self, text: str, *, allow_special: bool = True) -> list[int]:
    """Token ids for ``text`` (no bos/eos added); with ``allow_special=False`` special tokens' text is plain text."""
    self.backend.encode_special_tokens = not allow_special
    try:
      return list(self.backend.encode(text, add_special_tokens=False).ids)
    finally:
      self.backend.encode_special_tokens = False

  def decode(self, ids: Sequence[int]) -> str:
    """Text for ``ids``; pad/bos/eos decode to nothing, chat tokens to their text (as ``Tokenizer.decode``)."""
    dropped = {self.pad_id, self.bos_id, self.eos_id}
    return self.backend.decode([int(i) for i in ids if int(i) not in dropped], skip_special_tokens=False)

  def _content_spans(self, text: str, messages: Sequence[Message]) -> list[tuple[int, int, bool]]:
    """(start, end, is_reply) of each non-empty message content in the rendered ``text``."""
    spans, position = [], 0
    for index, message in enumerate(messages):
      position = max(position, _prefix_length(self, text, messages[:index]))
      content = message.content if message.content in text[position:] else message.content.strip()
      start = text.find(content, position) if content else -1
      if content and start < 0:
        raise ValueError(f"chat template: message {index + 1}'s content does not appear in the rendered chat")
      if content:
        spans.append((start, start + len(content), message.role == "assistant"))
        position = start + len(content)
    return spans

  def encode_chat(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> ChatTokens:
    """The chat template as ids, with the mask of assistant-reply tokens (content and the end-of-turn token
    that follows it; not the assistant header)."""
    text = self.render(messages, add_generation_prompt)
    ids, mask, position, after_reply = [], [], 0, False
    for start, end, is_reply in self._content_spans(text, messages):
      template = self.encode(text[position:start])
      ids += template
      mask += [after_reply and i == 0 and token == self.end_id for i, token in enumerate(template)]
      content = self.encode(text[start:end], allow_special=False)
      ids += content
      mask += [is_reply] * len(content)
      position, after_reply = end, is_reply
    tail = self.encode(text[position:])
    ids += tail
    mask += [after_reply and i == 0 and token == self.end_id for i, token in enumerate(tail)]
    return ChatTokens(ids=ids, assistant_mask=mask)

  def decode_reply(self, ids: Sequence[int]) -> str:
    """The reply in generated ``ids``: everything before the first end of turn (or eos)."""
    return self.decode(reply_ids(ids, (self.end_id, self.eos_id)))


def _prefix_length(tokenizer: HFTokenizer, text: str, messages: Sequence[Message]) -> int:
  """The length of the rendering of the earlier ``messages`` when ``text`` starts with it, else 0 (a template may
  refuse an empty or partial conversation)."""
  if not messages:
    return 0
  try:
    prefix = tokenizer.render(messages)
  except Exception:  # noqa: BLE001  (jinja errors of templates that index messages they were not given)
    return 0
  return len(prefix) if text.startswith(prefix) else 0
