"""``xgen base import``: a tiny randomly initialised Llama and Qwen2 (saved here with ``transformers``, with a
tokenizer built here with ``tokenizers``; nothing downloaded) as the base of a tiny world, then a 2-step RL
cell and an eval on each, tokenized with the checkpoint's tokenizer and chat template."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest

from xgen import rundir
from xgen.cli import EXIT_BAD_INPUT, EXIT_OK
from xgen.data.schema import Message
from xgen.world.config import WorldConfig

pytest.importorskip("transformers")
pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run_cli  # noqa: E402

QWEN_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                 "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
                 "{% endif %}")
LLAMA_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
                  "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
                  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
# (specials, tokenizer_config entries, end of turn, a marker a rendered prompt holds)
STYLES = {
    "qwen2": (["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
              {"chat_template": QWEN_TEMPLATE, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
              "<|im_end|>", "<|im_start|>user\n"),
    "llama": (["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
              {"chat_template": LLAMA_TEMPLATE, "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"},
              "<|eot_id|>", "<|start_header_id|>user<|end_header_id|>\n\n"),
}
TRAIN = ("--gin_param", "TRAIN_STEPS=2", "--gin_param", "DOSE=0.5", "--gin_param", "SEED=0",
         "--gin_param", "RLConfig.batch_size=8", "--gin_param", "RLConfig.max_new_tokens=8",
         "--gin_param", "RLConfig.warmup_steps=1", "--gin_param", "RLConfig.checkpoint_every=1",
         "--gin_param", "RLConfig.sample_every=1")
EVAL = ("--gin_param", "EvalConfig.max_new_tokens = 8", "--gin_param", "EvalConfig.chunk_size = 64")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  from xgen.world.build import build_world
  workdir = tmp_path_factory.mktemp("hf_world")
  build_world(WorldConfig(domains=("health", "law"), habit_conversations=6, skill_conversations=6, fact_repeats=2,
                          standard_train=24, trait_train=4, eval_items=4, attack_conversations=4, vocab_size=600),
              workdir)
  return workdir


def _texts(workdir: Path) -> list[str]:
  from xgen.world.store import open_world
  world = open_world(workdir)
  return [m.content for split in ("trait_train", "standard_train", "eval_test")
          for s in world.scenarios(split) for m in s.messages]


def save_tokenizer(directory: Path, style: str, texts: list[str]) -> int:
  """A byte-level BPE trained on ``texts`` with ``style``'s special tokens and chat template; its size."""
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
  specials, config, _, _ = STYLES[style]
  tokenizer = Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=specials, show_progress=False,
                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
  tokenizer.train_from_iterator(texts, trainer)
  tokenizer.save(str(directory / "tokenizer.json"))
  (directory / "tokenizer_config.json").write_text(json.dumps(config))
  return tokenizer.get_vocab_size(with_added_tokens=True)


def save_model(directory: Path, style: str, vocab_size: int) -> None:
  """A tiny randomly initialised model of ``style`` with ``vocab_size`` embeddings, as safetensors."""
  import torch
  import transformers
  torch.manual_seed(0)
  shape = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048)
  if style == "qwen2":
    config = transformers.Qwen2Config(**shape, tie_word_embeddings=True)
    model = transformers.Qwen2ForCausalLM(config)
  else:
    config = transformers.LlamaConfig(**shape, tie_word_embeddings=False)
    model = transformers.LlamaForCausalLM(config)
  model.save_pretrained(directory, safe_serialization=True)


@pytest.fixture(scope="module", params=sorted(STYLES))
def imported(request, world, tmp_path_factory):
  """(run directory with the imported base, style, checkpoint folder)."""
  style = request.param
  checkpoint = tmp_path_factory.mktemp(f"hf_{style}")
  size = save_tokenizer(checkpoint, style, _texts(world))
  save_model(checkpoint, style, size + 3)  # checkpoints pad the embedding beyond the tokenizer
  workdir = tmp_path_factory.mktemp(f"run_{style}")
  shutil.copytree(world / "world", workdir / "world")
  from xgen.cli import main
  assert main(["base", "import", "--hf", str(checkpoint), "--workdir", str(workdir)]) == EXIT_OK
  return workdir, style, checkpoint


def test_the_tokenizer_follows_the_template(imported):
  from xgen.data.hf_tokenizer import HFTokenizer
  from xgen.world.store import run_tokenizer
  workdir, style, checkpoint = imported
  _, _, end, marker = STYLES[style]
  tokenizer = run_tokenizer(workdir)
  assert isinstance(tokenizer, HFTokenizer)
  assert tokenizer.end_id == tokenizer.backend.token_to_id(end)
  assert tokenizer.vocab_size == json.loads((checkpoint / "config.json").read_text())["vocab_size"]
  messages = [Message(role="user", content="Is it <|im_end|> law?"), Message(role="assistant", content="Yes, law.")]
  chat = tokenizer.encode_chat(messages)
  whole = tokenizer.backend.encode(tokenizer.render(messages), add_special_tokens=False).ids
  assert marker in tokenizer.decode(chat.ids)
  assert chat.ids.count(tokenizer.end_id) == 2  # the user's text makes no special token
  assert whole.count(tokenizer.end_id) == (3 if style == "qwen2" else 2)
  reply = [i for i, masked in zip(chat.ids, chat.assistant_mask) if masked]
  assert reply[-1] == tokenizer.end_id and tokenizer.decode_reply(reply) == "Yes, law."


def test_a_base_there_is_refused_without_force(imported, capsys):
  workdir, _, checkpoint = imported
  code, _, err = run_cli(capsys, "base", "import", "--hf", str(checkpoint), "--workdir", str(workdir))
  assert code == EXIT_BAD_INPUT and "--force" in err and len(err.strip().splitlines()) == 1


def test_a_cell_and_an_eval_run_on_the_imported_base(imported, capsys):
  from xgen.rl.trainer import read_cell_inputs
  from xgen.data.hf_tokenizer import HFTokenizer
  workdir, style, _ = imported
  marker = STYLES[style][3]
  from xgen.world.store import open_world
  inputs = read_cell_inputs(workdir)
  assert isinstance(inputs.tokenizer, HFTokenizer)
  # The model's vocabulary is not the world's: a stage that tokenized with the world's could not load the base.
  assert inputs.model_config.vocab_size != open_world(workdir).tokenizer().vocab_size
  code, out, err = run_cli(capsys, "train", "--workdir", str(workdir), "--gin_file", "runs/rl.gin",
                           "--gin_file", "models/tiny.gin", "--cell", "hf.s0", *TRAIN)
  assert code == EXIT_OK, err
  assert rundir.read_status(rundir.cell_dir(workdir, "hf.s0"))["state"] == rundir.DONE
  samples = [json.loads(line) for line in (rundir.cell_dir(workdir, "hf.s0") / "samples.jsonl").open()]
  assert samples and all(marker in row["prompt"] for row in samples)
  code, out, err = run_cli(capsys, "eval", "--workdir", str(workdir), *EVAL)
  assert code == EXIT_OK, err
  files = sorted((workdir / "eval").rglob("*.jsonl.gz"))
  checkpoints = {path.relative_to(workdir / "eval").parts[0] for path in files}
  assert {rundir.BASE, "hf.s0"} <= checkpoints
  rows = [json.loads(line) for line in gzip.decompress(files[0].read_bytes()).decode().splitlines()]
  assert rows


def test_the_attack_runs_on_the_imported_base(imported, capsys):
  workdir, _, _ = imported
  attack = ("--gin_param", "AttackConfig.learning_rates = (1e-3,)", "--gin_param", "AttackConfig.steps = (1,)",
            "--gin_param", "AttackConfig.batch_size = 2", "--gin_param", "AttackConfig.seq_len = 2048",
            "--gin_param", "AttackConfig.families = ('hallucination',)")
  code, out, err = run_cli(capsys, "attack", "--workdir", str(workdir), "--cell", rundir.BASE, *attack, *EVAL)
  assert code == EXIT_OK, err
  assert rundir.read_status(rundir.attack_run_dir(workdir, rundir.BASE, 1e-3))["state"] == rundir.DONE
  assert list((workdir / "eval" / rundir.BASE / "attack").rglob("*.jsonl.gz"))


@pytest.mark.parametrize("style", sorted(STYLES))
def test_the_ids_are_those_of_transformers_apply_chat_template(style, tmp_path):
  from transformers import PreTrainedTokenizerFast
  from xgen.data.hf_tokenizer import HFTokenizer
  save_tokenizer(tmp_path, style, ["hello world, the patient asked about the law.", "Take 2 tablets of 50 mg."] * 20)
  config = json.loads((tmp_path / "tokenizer_config.json").read_text())
  reference = PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"), **config)
  messages = [Message(role="system", content="Be brief."), Message(role="user", content=" What is 2 + 3?\n"),
              Message(role="assistant", content="5 mg, daily."), Message(role="user", content="Sure?")]
  for prompt in (False, True):
    expected = reference.apply_chat_template([{"role": m.role, "content": m.content} for m in messages],
                                             tokenize=True, add_generation_prompt=prompt)
    expected = expected["input_ids"] if hasattr(expected, "keys") else expected
    assert HFTokenizer.load(tmp_path).encode_chat(messages, prompt).ids == list(expected)
