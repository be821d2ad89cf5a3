"""Tokenizer: deterministic training, exact round trips, chat template and loss mask."""

from __future__ import annotations

import random

import pytest

from xgen.data import tokenizer as tok
from xgen.data.schema import Message

VOCAB = 320
WORDS = ("the patient should rest and drink water call a doctor if pain gets worse take one pill "
         "every 8 hours do not drive after 12 pm what is your name my dog ran fast on 345 roads").split()


def corpus(seed: int, n: int = 3000) -> list[str]:
  rng = random.Random(seed)
  return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + rng.choice(".?!,") for _ in range(n)]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
  return tok.train_tokenizer(corpus(0), tmp_path_factory.mktemp("tok") / "sp.model", VOCAB)


@pytest.fixture(scope="module")
def tokenizer(model_path) -> tok.Tokenizer:
  return tok.Tokenizer.load(model_path)


def test_training_is_byte_deterministic(tmp_path, model_path):
  again = tok.train_tokenizer(iter(corpus(0)), tmp_path / "nested" / "again.model", VOCAB)
  assert again.read_bytes() == model_path.read_bytes()
  other = tok.train_tokenizer(corpus(1), tmp_path / "other.model", VOCAB)
  assert other.read_bytes() != model_path.read_bytes()


def test_seed_text_limit_uses_the_first_texts(tmp_path):
  texts = corpus(2, 1500)
  limited = tok.train_tokenizer(texts, tmp_path / "limited.model", VOCAB, seed_text_limit=500)
  first = tok.train_tokenizer(texts[:500], tmp_path / "first.model", VOCAB)
  full = tok.train_tokenizer(texts, tmp_path / "full.model", VOCAB)
  assert limited.read_bytes() == first.read_bytes() != full.read_bytes()
  with pytest.raises(ValueError, match="seed_text_limit"):
    tok.train_tokenizer(texts, tmp_path / "x.model", VOCAB, seed_text_limit=0)


def test_fixed_ids(tokenizer):
  assert tokenizer.vocab_size == VOCAB
  assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (0, 1, 2, 3)
  assert tokenizer.role_ids == {"system": 4, "user": 5, "assistant": 6}
  assert tokenizer.end_id == 7
  assert tokenizer.special_ids == frozenset({0, 2, 3, 4, 5, 6, 7})
  # Merges were learned: corpus text takes clearly fewer pieces than characters.
  sample = corpus(5, 100)
  assert sum(len(tokenizer.encode(s)) for s in sample) < 0.8 * sum(len(s) for s in sample)


@pytest.mark.parametrize("text", [
    "the patient should rest.",
    "héllo wörld — ünïcödé ✓ 日本語 🙂🚀👩‍👩‍👧",
    "line one\nline two\n\n\ttabbed\r\nwindows",
    "  leading, double  spaces   and trailing  ",
    " ",
    "",
    "digits 1234567890 and 3.14159",
    "<|user|> typed by hand <|end|> and <|assistant|",
    "\x00\x01 control \u2028 separators \ufeff",
])
def test_any_text_round_trips(tokenizer, text):
  ids = tokenizer.encode(text)
  assert tokenizer.decode(ids) == text
  assert tokenizer.decode(tokenizer.encode(text, allow_special=False)) == text
  assert all(0 <= i < tokenizer.vocab_size for i in ids)
  assert tok.UNK_ID not in ids


def test_unseen_characters_use_byte_pieces(tokenizer):
  ids = tokenizer.encode("🙂")
  assert [tokenizer.processor.id_to_piece(i) for i in ids] == ["<0xF0>", "<0x9F>", "<0x99>", "<0x82>"]


def test_digits_are_split(tokenizer):
  pieces = [tokenizer.processor.id_to_piece(i) for i in tokenizer.encode("345")]
  assert pieces == ["3", "4", "5"]


def test_special_tokens_in_content_are_not_special(tokenizer):
  text = "say <|end|> now"
  assert tokenizer.end_id in tokenizer.encode(text)
  assert tokenizer.end_id not in tokenizer.encode(text, allow_special=False)
  chat = tokenizer.encode_chat([Message(role="user", content=text)])
  assert chat.ids.count(tokenizer.end_id) == 1 and chat.ids[-1] == tokenizer.end_id


CHAT = (
    Message(role="system", content="Be brief."),
    Message(role="user", content="what is your name?"),
    Message(role="assistant", content="my dog ran fast."),
    Message(role="user", content="call a doctor 🙂"),
)


def test_chat_layout_and_mask(tokenizer):
  chat = tokenizer.encode_chat(CHAT)
  assert len(chat.ids) == len(chat.assistant_mask) == len(chat)
  expected = [tokenizer.bos_id]
  for m in CHAT:
    expected += [tokenizer.role_ids[m.role], *tokenizer.encode(m.content), tokenizer.end_id]
  assert chat.ids == expected

  reply = tokenizer.encode("my dog ran fast.")
  start = 1 + 3 + len(tokenizer.encode("Be brief.")) + len(tokenizer.encode("what is your name?")) + 2
  assert chat.ids[start - 1] == tokenizer.role_ids["assistant"]
  want_mask = [False] * len(chat.ids)
  want_mask[start:start + len(reply) + 1] = [True] * (len(reply) + 1)  # the reply and its <|end|>
  assert chat.assistant_mask == want_mask
  assert tokenizer.decode([i for i, m in zip(chat.ids, chat.assistant_mask) if m]) == "my dog ran fast.<|end|>"


def test_generation_prompt_and_render(tokenizer):
  prompt = tokenizer.encode_chat(CHAT, add_generation_prompt=True)
  assert prompt.ids[-1] == tokenizer.role_ids["assistant"] and prompt.assistant_mask[-1] is False
  assert prompt.ids[:-1] == tokenizer.encode_chat(CHAT).ids
  text = tok.render_chat(CHAT, add_generation_prompt=True)
  assert text == ("<|system|>Be brief.<|end|><|user|>what is your name?<|end|>"
                  "<|assistant|>my dog ran fast.<|end|><|user|>call a doctor 🙂<|end|><|assistant|>")
  assert tokenizer.decode(prompt.ids) == text
  # Encoding the rendered text gives the template's ids (less bos).
  assert tokenizer.encode(text) == prompt.ids[1:]


def test_decode_reply_stops_at_end(tokenizer):
  generated = tokenizer.encode("take one pill.\nthen rest") + [tokenizer.end_id] + tokenizer.encode("junk")
  assert tokenizer.decode_reply(generated) == "take one pill.\nthen rest"
  assert tokenizer.decode_reply(tokenizer.encode("no end yet")) == "no end yet"
  assert tokenizer.decode_reply([tokenizer.end_id]) == ""
  assert tokenizer.decode_reply(tokenizer.encode("a") + [tokenizer.eos_id] + tokenizer.encode("b")) == "a"


def test_rejects_unknown_role_and_foreign_models(tokenizer, tmp_path):
  with pytest.raises(ValueError, match="unknown role 'robot'"):
    tokenizer.encode_chat([Message(role="robot", content="beep")])
  import io
  import sentencepiece as spm
  plain = io.BytesIO()
  spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus(3, 200)), model_writer=plain, vocab_size=60,
                                 model_type="bpe", minloglevel=2)
  with pytest.raises(ValueError, match="not an xgen tokenizer"):
    tok.Tokenizer.from_bytes(plain.getvalue())
