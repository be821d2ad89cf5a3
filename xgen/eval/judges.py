"""Judge-model backends for ``judge`` criteria, and the content-addressed cache of their verdicts.

A backend answers :class:`~xgen.graders.judge.JudgeRequest`s: called with one it returns a bool (what
``xgen.graders.judge.judging`` installs), ``judge_many(requests)`` answers a batch, and ``verdicts(requests)``
gives each :class:`~xgen.graders.judge_prompt.Verdict` with the judge's explanation and raw reply.

* :class:`LocalJudge`: a model xgen can load (a run directory's base or a cell), sent the judge prompt through
  the chat template and decoded greedily with the xgen sampler, in batches.
* :class:`HttpJudge`: an OpenAI-compatible chat endpoint (``POST {url}/chat/completions`` with ``model``,
  ``messages``, ``temperature: 0``), standard library only; the API key is read from an environment variable.
* :class:`CachedJudge`: wraps a backend; each verdict is one JSON file under ``rundir.judge_cache_dir`` named by
  the sha256 of (cache version, judge id, the whole judge prompt: template, criterion, points, conversation and
  response), so a rerun asks the judge nothing and an edited criterion is asked again alone.

Unparseable replies: a reply without a verdict (``judge_prompt.VerdictError``) is asked again up to ``retries``
times where another answer can differ (HTTP); a greedy local judge would repeat itself, so it is not asked
again. Then the criterion's worst case for the response is recorded (``judge.worst_case``: not met, or met
for a penalty) with ``parsed: false``, so a response cannot gain by derailing the judge; ``CachedJudge.unparsed``
counts them, and they are cached like any verdict (delete such a file to ask again). A judge that cannot be
reached or answers off the chat protocol raises :class:`JudgeUnavailable` (one line); no verdict is recorded.

Wiring into an evaluation: ``with judge_context(W, config) as judge: cross_evaluate(...)``; a batch of
episodes can be judged ahead of grading with :func:`judge_ahead` (grading then reads the cache).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import gin
import jax

from xgen import rundir
from xgen import validation as v
from xgen.data.schema import Scenario
from xgen.data.tokenizer import Tokenizer
from xgen.graders.judge import JudgeRequest, judge_requests, judging, worst_case
from xgen.graders.judge_prompt import TEMPLATE_VERSION, Verdict, VerdictError, parse_verdict
from xgen.models.sampler import SamplingConfig
from xgen.models.transformer import Transformer
from xgen.rl.rollout import sample_stage

KINDS = ("none", "local", "http")
CACHE_VERSION = 1


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class JudgeConfig:
  """Which judge grades ``judge`` criteria. ``kind``: ``none`` (grading them is an error), ``local`` (the model
  of ``checkpoint``, ``base`` or a cell, of the run directory ``workdir``, default the evaluated one) or ``http``
  (``model`` at the OpenAI-compatible ``url``, with the API key in the environment variable ``api_key_env``, if
  any). ``max_new_tokens``: the judge's reply length; ``retries``: extra asks after an unparseable reply (HTTP)."""

  kind: str = "none"
  checkpoint: str = rundir.BASE
  workdir: str = ""
  url: str = ""
  model: str = ""
  api_key_env: str = ""
  max_new_tokens: int = 256
  timeout_s: float = 120.0
  retries: int = 2
  chunk_size: int = 8

  def __post_init__(self):
    v.choice("JudgeConfig", "kind", self.kind, KINDS)
    v.positive_int("JudgeConfig", "max_new_tokens", self.max_new_tokens)
    v.positive_int("JudgeConfig", "chunk_size", self.chunk_size)
    v.non_negative_int("JudgeConfig", "retries", self.retries)
    v.number_in("JudgeConfig", "timeout_s", self.timeout_s, 0.0, low_open=True)
    if self.kind == "local":
      rundir.check_name(self.checkpoint, "JudgeConfig.checkpoint")
    if self.kind == "http":
      v.string("JudgeConfig", "url", self.url)
      v.string("JudgeConfig", "model", self.model)
      if not self.url.startswith(("http://", "https://")):
        raise v.fail("JudgeConfig", "url", "an http:// or https:// URL", self.url)


class JudgeUnavailable(OSError):
  """No answer came from the judge: it cannot be reached, answered with an error, or off the chat protocol."""


def read_reply(request: JudgeRequest, reply: str) -> Verdict:
  """The verdict in ``reply``; the request's worst case, marked unparsed, when it holds none."""
  try:
    return parse_verdict(reply)
  except VerdictError:
    return Verdict(met=worst_case(request), explanation="no verdict in the judge's reply", parsed=False, reply=reply)


class Backend:
  """The call interfaces, from ``verdicts``: one request -> bool, and ``judge_many``."""

  judge_id = "backend"

  def verdicts(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
    raise NotImplementedError

  def judge_many(self, requests: Sequence[JudgeRequest]) -> list[bool]:
    return [verdict.met for verdict in self.verdicts(requests)]

  def __call__(self, request: JudgeRequest) -> bool:
    return self.verdicts([request])[0].met


# --- an OpenAI-compatible endpoint -------------------------------------------------------------------


def post_json(url: str, payload: dict, headers: dict[str, str], timeout_s: float) -> dict:
  """The JSON object an endpoint answers ``payload`` with; :class:`JudgeUnavailable` in one line otherwise."""
  request = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), method="POST",
                                   headers={"Content-Type": "application/json", **headers})
  try:
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
      status, body = response.status, response.read()
  except urllib.error.HTTPError as error:
    detail = error.read().decode("utf-8", "replace")
    raise JudgeUnavailable(f"the judge at {url} answered HTTP {error.code}: {rundir.shorten(detail, 200)}") from None
  except (urllib.error.URLError, OSError) as error:
    raise JudgeUnavailable(f"cannot reach the judge at {url}: {getattr(error, 'reason', error)}") from None
  if status != 200:
    raise JudgeUnavailable(f"the judge at {url} answered HTTP {status}, not 200")
  try:
    answer = json.loads(body)
  except (json.JSONDecodeError, UnicodeDecodeError):
    answer = None
  if not isinstance(answer, dict):
    raise JudgeUnavailable(f"the judge at {url} answered with no JSON object: {rundir.excerpt(body, 200)}")
  return answer


def completion_text(answer: dict, url: str) -> str:
  """``choices[0].message.content`` of a chat completion; :class:`JudgeUnavailable` when it has none."""
  try:
    content = answer["choices"][0]["message"]["content"]
  except (KeyError, IndexError, TypeError):
    content = None
  if not isinstance(content, str):
    raise JudgeUnavailable(f"the judge at {url} answered without choices[0].message.content: "
                           f"{rundir.excerpt(answer, 200)}")
  return content


class HttpJudge(Backend):
  """``model`` behind an OpenAI-compatible ``url`` (``http://host:port/v1``). ``api_key_env``: the environment
  variable holding the API key (sent as a bearer token), or empty for none; read once, here."""

  def __init__(self, url: str, model: str, *, api_key_env: str = "", max_tokens: int | None = None,
               timeout_s: float = 120.0, retries: int = 2, workers: int = 4):
    self.endpoint = f"{url.rstrip('/')}/chat/completions"
    self.model, self.max_tokens, self.timeout_s = model, max_tokens, timeout_s
    self.retries, self.workers = retries, workers
    key = os.environ.get(api_key_env) if api_key_env else None
    if api_key_env and not key:
      raise ValueError(f"the judge's API key: the environment variable {api_key_env} is not set")
    self._headers = {"Authorization": f"Bearer {key}"} if key else {}
    self.judge_id = f"http:{model}@{self.endpoint}" + (f"#max_tokens={max_tokens}" if max_tokens else "")

  def ask(self, request: JudgeRequest) -> str:
    payload = {"model": self.model, "temperature": 0,
               "messages": [{"role": m.role, "content": m.content} for m in request.messages]}
    if self.max_tokens:
      payload["max_tokens"] = self.max_tokens
    return completion_text(post_json(self.endpoint, payload, self._headers, self.timeout_s), self.endpoint)

  def verdict(self, request: JudgeRequest) -> Verdict:
    """Asks until a reply holds a verdict, at most ``1 + retries`` times; then the worst case, unparsed."""
    for _ in range(self.retries):
      reply = self.ask(request)
      try:
        return parse_verdict(reply)
      except VerdictError:
        continue
    return read_reply(request, self.ask(request))

  def verdicts(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
    if len(requests) <= 1 or self.workers <= 1:
      return [self.verdict(request) for request in requests]
    with ThreadPoolExecutor(max_workers=min(self.workers, len(requests))) as pool:
      return list(pool.map(self.verdict, requests))


# --- a local xgen model --------------------------------------------------------------------------------


class LocalJudge(Backend):
  """An xgen model as the judge: each request's messages through the chat template, decoded greedily
  (``max_new_tokens``), ``chunk_size`` prompts per sampler call. Greedy decoding repeats itself, so an
  unparseable reply is not asked again (see the module docstring)."""

  def __init__(self, model: Transformer, tokenizer: Tokenizer, judge_id: str, *, max_new_tokens: int = 256,
               chunk_size: int = 8):
    self.model, self.tokenizer, self.judge_id = model, tokenizer, f"{judge_id}#max_new_tokens={max_new_tokens}"
    self.sampling = SamplingConfig(max_new_tokens=max_new_tokens, temperature=0.0,
                                   stop_ids=(tokenizer.end_id, tokenizer.eos_id))
    self.chunk_size = chunk_size

  @classmethod
  def from_run(cls, workdir: str | Path, checkpoint: str = rundir.BASE, **options) -> "LocalJudge":
    """The newest checkpoint of ``workdir``'s base (or of the cell ``checkpoint``), with the run's
    tokenizer (``run_tokenizer``); its id names the checkpoint's fingerprint, so a retrained judge never reuses
    cached verdicts."""
    from xgen.train.checkpoints import Checkpoints, checkpoint_fingerprint
    from xgen.train.sft import load_final_params, saved_model_config
    from xgen.world.store import run_tokenizer
    run = rundir.base_dir(workdir) if checkpoint == rundir.BASE else rundir.cell_dir(workdir, checkpoint)
    config = saved_model_config(run)
    if config is None:
      raise ValueError(f"the judge {run}: its checkpoint records no model config")
    checkpoints = Checkpoints(rundir.checkpoints_dir(run))
    try:
      step = checkpoints.latest_step()
    finally:
      checkpoints.close()
    judge_id = f"local:{checkpoint}@{checkpoint_fingerprint(run, step)}"
    return cls(load_final_params(run, config), run_tokenizer(workdir), judge_id, **options)

  def replies(self, requests: Sequence[JudgeRequest]) -> list[str]:
    """The model's greedy reply to each request's messages."""
    prompts = [self.tokenizer.encode_chat(r.messages, add_generation_prompt=True).ids for r in requests]
    outputs = sample_stage(self.model, prompts, self.sampling, jax.random.PRNGKey(0),
                           chunk_size=min(self.chunk_size, len(prompts)), pad_id=self.tokenizer.pad_id)
    return [self.tokenizer.decode_reply(ids) for ids, _ in outputs]

  def verdicts(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
    if not requests:
      return []
    return [read_reply(request, reply) for request, reply in zip(requests, self.replies(requests))]


# --- the cache -----------------------------------------------------------------------------------------


def cache_key(judge_id: str, request: JudgeRequest) -> str:
  """The sha256 naming a verdict: of the cache version, the judge and everything the judge is sent."""
  content = {"cache": CACHE_VERSION, "judge": judge_id, "template": TEMPLATE_VERSION,
             "messages": [[m.role, m.content] for m in request.messages]}
  return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def backend_verdicts(backend: Callable, requests: Sequence[JudgeRequest]) -> list[Verdict]:
  """A backend's verdicts, through the richest interface it has (``verdicts``, ``judge_many``, or one call each)."""
  if hasattr(backend, "verdicts"):
    return list(backend.verdicts(requests))
  answers = backend.judge_many(requests) if hasattr(backend, "judge_many") else [backend(r) for r in requests]
  for request, met in zip(requests, answers):
    if not isinstance(met, bool):
      raise TypeError(f"the judge returned {type(met).__name__} for {rundir.shorten(request.criterion, 200)!r}, "
                      "not a bool")
  return [Verdict(met=met) for met in answers]


class CachedJudge(Backend):
  """``backend`` behind a verdict cache in ``cache_dir`` (``<key[:2]>/<key>.json``, written atomically), asked
  ``batch_size`` missing verdicts at a time, each batch stored as it comes. Verdicts are also kept in memory, so
  each distinct verdict counts once: ``hits`` (found on disk) and ``misses`` (asked of the backend) over the
  distinct verdicts this object served; ``unparsed``: misses recorded as worst cases."""

  def __init__(self, backend: Callable, cache_dir: str | Path, judge_id: str, *, batch_size: int = 64):
    self.backend, self.cache_dir, self.judge_id, self.batch_size = backend, Path(cache_dir), judge_id, batch_size
    self.hits = self.misses = self.unparsed = 0
    self._memo: dict[str, Verdict] = {}

  def path(self, key: str) -> Path:
    return self.cache_dir / key[:2] / f"{key}.json"

  def load(self, key: str) -> Verdict | None:
    """The cached verdict under ``key``; None when missing or damaged (it is then asked again and rewritten)."""
    try:
      record = rundir.read_json(self.path(key))
    except rundir.DamagedFile:
      return None
    if not record or record.get("key") != key or not isinstance(record.get("met"), bool):
      return None
    return Verdict(met=record["met"], explanation=str(record.get("explanation", "")),
                   parsed=record.get("parsed") is not False, reply=str(record.get("reply", "")))

  def store(self, key: str, request: JudgeRequest, verdict: Verdict) -> None:
    rundir.atomic_write_json(self.path(key), {
        "key": key, "judge": self.judge_id, "template": TEMPLATE_VERSION, "criterion": request.criterion,
        "points": request.points, "met": verdict.met, "explanation": verdict.explanation, "parsed": verdict.parsed,
        "reply": verdict.reply})

  def verdicts(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
    keys = [cache_key(self.judge_id, request) for request in requests]
    todo: dict[str, JudgeRequest] = {}
    for key, request in zip(keys, requests):
      if key in self._memo or key in todo:
        continue
      found = self.load(key)
      if found is None:
        todo[key] = request
      else:
        self._memo[key] = found
        self.hits += 1
    pending = list(todo.items())
    for start in range(0, len(pending), self.batch_size):  # stored batch by batch: a failure keeps what came
      batch = pending[start:start + self.batch_size]
      for (key, request), verdict in zip(batch, backend_verdicts(self.backend, [request for _, request in batch])):
        self.store(key, request, verdict)
        self._memo[key] = verdict
        self.misses += 1
        self.unparsed += not verdict.parsed
    return [self._memo[key] for key in keys]

  @property
  def hit_rate(self) -> float | None:
    """hits / (hits + misses); None before any verdict."""
    total = self.hits + self.misses
    return self.hits / total if total else None

  def stats(self) -> dict:
    return {"hits": self.hits, "misses": self.misses, "unparsed": self.unparsed, "hit_rate": self.hit_rate}


# --- from a config -------------------------------------------------------------------------------------


def judge_from_config(workdir: str | Path, config: JudgeConfig) -> CachedJudge | None:
  """The configured judge behind the cache of ``workdir`` (``W/judge/``); None for ``kind='none'``."""
  if config.kind == "none":
    return None
  if config.kind == "local":
    backend = LocalJudge.from_run(config.workdir or workdir, config.checkpoint,
                                  max_new_tokens=config.max_new_tokens, chunk_size=config.chunk_size)
  else:
    backend = HttpJudge(config.url, config.model, api_key_env=config.api_key_env, max_tokens=config.max_new_tokens,
                        timeout_s=config.timeout_s, retries=config.retries)
  return CachedJudge(backend, rundir.judge_cache_dir(workdir), backend.judge_id)


@contextlib.contextmanager
def judge_context(workdir: str | Path, config: JudgeConfig) -> Iterator[CachedJudge | None]:
  """Within the block, ``judge`` criteria are graded by the configured judge (none for ``kind='none'``); yields
  it, for its ``stats()``."""
  judge = judge_from_config(workdir, config)
  with judging(judge) if judge is not None else contextlib.nullcontext():
    yield judge


def judge_ahead(judge: Callable, episodes: Iterable[tuple[Scenario, Sequence[str]]]) -> int:
  """Asks ``judge`` (a :class:`CachedJudge`) in one batch every request that grading these (scenario, responses)
  pairs will make, so that grading then reads each verdict from the cache; returns how many requests there were."""
  requests = [request for scenario, responses in episodes for request in judge_requests(scenario, responses)]
  if requests:
    judge.judge_many(requests)
  return len(requests)
