"""The errors a user can fix: a bad config, bad data, a model that cannot be loaded, refused code.

Each message names what is wrong and where (the key, the file and line, the model, the flag).
``sdft`` catches :class:`SdftError` and prints that one line (exit 2) instead of a traceback;
any other exception is a bug and keeps its traceback.

The subclasses also derive from the built-in error their old versions were (``ValueError`` for
values a user wrote, ``RuntimeError`` for what the machine could not do), so callers that
catch those keep working. They are re-exported where they used to live (``sdft.config``,
``sdft.data.records``, ``sdft.models``, ``sdft.evaluate.sandbox``).
"""

from __future__ import annotations


class SdftError(Exception):
    """An input problem the user can fix; the message says which and where."""


class ConfigError(SdftError, ValueError):
    """A config key or value is wrong; the message names it and where it came from."""


class DataError(SdftError, ValueError):
    """Bad input data. The message names the file, the line or record, and the field."""


class ModelError(SdftError, RuntimeError):
    """The model cannot be found or loaded; the message says what to do."""


class SandboxError(SdftError, RuntimeError):
    """Code execution was refused (no opt-in) or the sandbox cannot start."""


class OutputError(SdftError, RuntimeError):
    """An output cannot be written: another sdft process is writing it, or the file system refused
    (no space, permission, read-only). The message names the file and how to resume."""


def yaml_error(e: Exception, *, position: bool = True) -> str:
    """One line for a YAML parse error: where (1-based line and column) and what is wrong.

    PyYAML's own text spans several lines (it quotes the source under a caret), which would break
    the one line the CLI prints. ``position=False`` leaves the place out, for a one-line value.
    """
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None)
    if mark is None or not problem:
        return "invalid YAML: " + " ".join(str(e).split())
    context = getattr(e, "context", None)
    what = f"{problem} ({context})" if context else problem
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if position else ""
    return f"{where}invalid YAML: {what}"
