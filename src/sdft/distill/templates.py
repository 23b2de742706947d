"""Distillation prompts: which template a task uses, and how an Example becomes a Request.

Templates are data files in ``sdft/prompts/`` (YAML with a Jinja ``user`` turn over
``instruction``, ``input`` and ``reference``, an optional assistant ``prefill`` and, for the
``*_system`` variants only, a ``system`` message). The chat template of the distilling model
does the rest, so the same file works for any chat model.

The defaults (``using``, ``refer``, ``math``) carry the distillation instruction in the user
turn and keep the system prompt training and evaluation use: the record's own, else whatever
the model's chat template inserts (Qwen's "You are Qwen, ..."). SDFT's premise is that the
rewrite comes from the model's own distribution, and a system prompt is part of that context
(Qwen2.5-Coder-0.5B refuses 20/24 AdvBench requests under its default system prompt and 0/16
under a custom one). The ``*_system`` variants are the first release's templates, whose
instruction *replaces* the system prompt; they stay for comparison.

A user-supplied ``--template FILE`` is either such a YAML file or a plain Jinja user template
(the model's default system prompt applies, no prefill). Earlier turns of multi-turn records
(LIMA) are kept before the templated turn, unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from sdft import prompts
from sdft.data.records import Example
from sdft.data.tasks import DEFAULT_TEMPLATE, task_entry
from sdft.errors import ConfigError, yaml_error
from sdft.generation.base import Request

# name -> file under sdft/prompts/
TEMPLATES: dict[str, str] = {
    "using": "distill_using.yaml",
    "refer": "distill_refer.yaml",
    "math": "distill_math.yaml",
    "using_system": "distill_using_system.yaml",
    "refer_system": "distill_refer_system.yaml",
    "math_system": "distill_math_system.yaml",
}



@dataclass(frozen=True)
class Template:
    name: str
    user: str
    system: str | None = None
    prefill: str = ""

    def render_user(self, ex: Example) -> str:
        import jinja2

        try:
            return _compile(self.user).render(instruction=ex.instruction, input=ex.input,
                                              reference=ex.response)
        except jinja2.TemplateError as e:
            raise ConfigError(f"template {self.name}: cannot render for record {ex.id}: {e}") from None

    def request(self, ex: Example) -> Request:
        """The distillation prompt for ``ex``: the system message (the template's for the
        ``*_system`` variants, else the record's own, else none so the chat template's default
        applies), history turns, then the templated user turn."""
        messages: list[dict[str, str]] = []
        system = self.system or ex.system
        if system:
            messages.append({"role": "system", "content": system})
        for user, assistant in ex.history:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        messages.append({"role": "user", "content": self.render_user(ex)})
        return Request(id=ex.id, messages=messages, prefill=self.prefill)


@functools.lru_cache(maxsize=16)
def _compile(source: str):
    import jinja2

    # StrictUndefined: a typo such as {{ refrence }} must fail, not render as empty text.
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source)


def _from_yaml(name: str, text: str, where: str) -> Template:
    try:
        d = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: {yaml_error(e)}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping with keys system, user, prefill")
    unknown = sorted(set(d) - {"system", "user", "prefill"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: system, user, prefill")
    if not isinstance(d.get("user"), str) or not d["user"].strip():
        raise ConfigError(f"{where}: `user` must be a non-empty Jinja template")
    return Template(name=name, user=d["user"], system=d.get("system") or None, prefill=d.get("prefill") or "")


def load_template(name_or_path: str) -> Template:
    """A built-in template by name (``using``, ``refer``, ``math``) or a template file."""
    if name_or_path in TEMPLATES:
        file = TEMPLATES[name_or_path]
        return _from_yaml(name_or_path, prompts.read(file), f"sdft/prompts/{file}")
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"template: {name_or_path!r} is neither a built-in "
                          f"({', '.join(TEMPLATES)}) nor an existing file")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        return _from_yaml(str(path), text, str(path))
    return Template(name=str(path), user=text)


def template_for(task: str | None, override: str | None = None) -> str:
    """The template name (or file) to use for a record of ``task``: ``override``, else the
    task's entry's (the paper's choice, :data:`sdft.data.tasks.TASKS`)."""
    if override:
        return override
    entry = task_entry(task)
    return entry.template if entry else DEFAULT_TEMPLATE
