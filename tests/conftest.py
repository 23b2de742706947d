"""Shared fixtures: the data directory, a tiny random-weight model, the real packaged model,
and a real local OpenAI-compatible chat endpoint."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ.get("SDFT_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (d / "README.md").exists():
        pytest.skip(f"data directory not found at {d}")
    return d


@pytest.fixture(scope="session")
def smollm2_dir() -> str:
    """The real SmolLM2-135M, converted once into the user cache (about 30 s the first time)."""
    from sdft import models

    return models.materialize(models.resolve("smollm2-135m"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_dir) -> str:
    """A 2-layer, hidden-16 Llama with random weights and SmolLM2's real tokenizer and chat
    template: fast enough for training and generation paths, real enough for templating."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


class ChatServer:
    """A chat-completions endpoint on 127.0.0.1 (any path), for the HTTP clients' tests.

    ``reply(body)`` answers a request with the assistant's text, or with a whole response object
    (a dict). The first ``fail_first`` requests get HTTP ``fail_status`` instead (with a
    ``Retry-After: retry_after`` header when given), to exercise retries. ``calls`` records
    ``(path, body, headers)`` of every request (header names lower-cased) and ``times`` when
    each arrived; ``answered`` holds the bodies of those answered with 200. ``url`` has no ``/v1``.
    """

    def __init__(self, reply, fail_status: int = 503, fail_first: int = 0, retry_after: str | None = None):
        self.calls: list[tuple[str, dict, dict]] = []
        self.times: list[float] = []
        self.answered: list[dict] = []
        self.fail_left, lock, outer = fail_first, threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.calls.append((self.path, body, {k.lower(): v for k, v in self.headers.items()}))
                    outer.times.append(time.monotonic())
                    fail = outer.fail_left > 0
                    outer.fail_left -= fail
                    if not fail:
                        outer.answered.append(body)
                if fail:
                    headers = {"Retry-After": retry_after} if retry_after else {}
                    return self._send(fail_status, {"error": {"message": "try again later"}}, headers)
                out = reply(body)
                if isinstance(out, str):
                    out = {"choices": [{"message": {"role": "assistant", "content": out}, "finish_reason": "stop"}]}
                self._send(200, out)

            def _send(self, status, obj, headers=None):
                data = json.dumps(obj).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def lora_model(tiny_model_dir):
    """``make(known=False, **lora_kwargs)``: the tiny Llama with a LoRA (r 2, alpha 4) on q_proj
    and v_proj; ``known=True`` zeroes it but for layer 0's q_proj, where B·A has 3 at (0,0) and 4
    at (1,1): ‖B·A‖_F = 5, a parameter shift of 10 at scale alpha / r = 2."""

    def make(known: bool = False, **lora_kwargs):
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
        model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"],
                                                **lora_kwargs))
        if known:
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if "lora_" in name:
                        p.zero_()
                q = model.base_model.model.model.layers[0].self_attn.q_proj
                q.lora_A["default"].weight[0, 0] = 1.0
                q.lora_A["default"].weight[1, 1] = 1.0
                q.lora_B["default"].weight[0, 0] = 3.0
                q.lora_B["default"].weight[1, 1] = 4.0
        return model

    return make


@pytest.fixture
def chat_server():
    """``chat_server(reply, fail_status=503, fail_first=0, retry_after=None)`` starts a
    :class:`ChatServer`; every server started is shut down after the test."""
    started: list[ChatServer] = []

    def start(reply, fail_status: int = 503, fail_first: int = 0, retry_after: str | None = None) -> ChatServer:
        started.append(ChatServer(reply, fail_status, fail_first, retry_after))
        return started[-1]

    yield start
    for s in started:
        s.close()
