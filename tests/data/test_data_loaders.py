"""Format loaders on hand-written fixtures, and every kind of bad input naming file, place and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.data import loaders, tasks
from sdft.data.records import DataError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_alpaca_json_array_input_system_history_and_extra_fields():
    ex = loaders.load_file(FIX / "alpaca.json")
    assert [e.id for e in ex] == ["alpaca/0", "alpaca/1", "alpaca/2"]
    assert ex[0].user_text() == "Add the numbers.\n\n2 and 3" and ex[0].response == "5"
    assert ex[1].system == "Be brief." and ex[1].input == ""
    assert ex[2].history == [("Say hello.", "Hello!"), ("Again.", "Hello again!")]
    assert ex[2].meta == {"category": "chat"}
    roles = [m["role"] for m in ex[2].messages()]
    assert roles == ["user", "assistant", "user", "assistant", "user"]


def test_alpaca_jsonl_uses_record_ids_and_skips_blank_lines():
    ex = loaders.load_file(FIX / "alpaca.jsonl", task="mine")
    assert [(e.id, e.task) for e in ex] == [("q1", "mine"), ("q2", "mine")]
    assert ex[1].input == "It is yellow."


def test_question_answer_keys_are_sniffed_as_gsm8k_columns():
    (ex,) = loaders.load_file(FIX / "gsm8k_style.json")
    assert ex.instruction.startswith("Tom has 2 apples") and ex.response.endswith("The answer is 1,002.")


def test_sharegpt_system_turn_history_and_role_aliases():
    a, b = loaders.load_file(FIX / "sharegpt.json")
    assert a.system == "You are a tutor."
    assert a.history == [("What is 2+2?", "4.")]
    assert (a.instruction, a.response) == ("And 3+3?", "6.")
    assert (b.instruction, b.response, b.history) == ("Ping", "Pong", [])


def test_messages_jsonl():
    a, b = loaders.load_file(FIX / "messages.jsonl")
    assert (a.instruction, a.response) == ("Capital of France?", "Paris.")
    assert b.system == "Answer in one word." and b.history == [("Hi", "Hello")] and b.response == "Green"


def test_csv_with_quoted_multiline_and_commas():
    ex = loaders.load_file(FIX / "alpaca.csv")
    assert len(ex) == 3
    assert (ex[0].input, ex[0].response) == ("Good morning", "Guten Morgen")
    assert ex[1].response == "Line one,\r\nline two." and ex[2].response == "1, 2, 3"


def test_forced_format_and_column_mapping_on_csv(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_text("prompt_text,reply\nWhy?,Because.\n", encoding="utf-8")
    (ex,) = loaders.load_file(p, fmt="alpaca", columns={"prompt": "prompt_text", "response": "reply"})
    assert (ex.instruction, ex.response) == ("Why?", "Because.")


def test_dataset_info_columns_mapping_and_sharegpt_tags(tmp_path):
    qa = loaders.load_dataset_info(f"{FIX / 'dataset_info.json'}#qa")
    assert [(e.id, e.instruction[:8], e.input, e.response, e.task) for e in qa] == [
        ("qa/0", "What is ", "", "100", "qa"), ("qa/1", "Spell 'c", "cat", "tac", "qa")]
    # chats.json is listed without its sub-folder: found one folder down by base name.
    (chat,) = loaders.load_dataset_info(f"{FIX / 'dataset_info.json'}#chats")
    assert (chat.instruction, chat.response) == ("Hello?", "Hi there.")


def test_dataset_info_errors_name_entry_and_tried_paths():
    with pytest.raises(DataError, match=r"dataset_info.json: entry 'gone': field 'file_name'.*tried .*nowhere/missing"):
        loaders.load_dataset_info(f"{FIX / 'dataset_info.json'}#gone")
    with pytest.raises(DataError, match=r"no entry 'nope'; entries: chats, gone, qa"):
        loaders.load_dataset_info(f"{FIX / 'dataset_info.json'}#nope")


def test_sdft_dataset_info_resolves_into_this_data_layout(data_dir):
    info = data_dir / "sdft_config" / "dataset_info.json"
    adv = tasks.load_data(f"{info}#advbench", data_dir)  # harmful_behaviors.csv lives in advbench/
    assert len(adv) == 520 and adv[0].response.startswith("Sure, here is")
    assert len(tasks.load_data(f"{info}#multiarith_test", data_dir)) == 180
    with pytest.raises(DataError, match="distilled_lima.json"):
        tasks.load_data(f"{info}#distilled_lima", data_dir)


def test_hub_dataset_offline_is_a_clear_error(monkeypatch):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach 'org/name' on the Hub\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"hf:org/name:test: could not load hub dataset 'org/name' split 'test'.*"
                                        r"Couldn't reach"):
        tasks.load_data("hf:org/name:test")
    with pytest.raises(DataError, match=r"hub dataset 'openai/gsm8k' config 'main' split 'test' revision 'v1'"):
        tasks.load_data("hf:openai/gsm8k:main@v1#test")


@pytest.mark.parametrize("spec, want", [
    ("hf:org/name", ("org/name", None, None, "train")),
    ("hf:org/name:test", ("org/name", None, None, "test")),  # the form before configs: a split word
    ("hf:openai/gsm8k:main", ("openai/gsm8k", "main", None, "train")),
    ("hf:openai/gsm8k:main#test", ("openai/gsm8k", "main", None, "test")),
    ("hf:openai/gsm8k:main@e9f1d3a#test", ("openai/gsm8k", "main", "e9f1d3a", "test")),
    ("hf:org/name@refs/pr/1", ("org/name", None, "refs/pr/1", "train")),
    ("hf:org/name#validation", ("org/name", None, None, "validation")),
    ("hf:org/name:test#train", ("org/name", "test", None, "train")),  # a config named like a split
])
def test_hub_spec_grammar(spec, want):
    p = loaders.parse_hf_spec(spec)
    assert (p["name"], p["config"], p["revision"], p["split"]) == want


@pytest.mark.parametrize("spec", ["hf:noslash", "hf:a/b/c", "hf:org/name:x:y", "hf:/name"])
def test_hub_spec_errors(spec):
    with pytest.raises(DataError, match="expected hf:ORG/NAME"):
        loaders.parse_hf_spec(spec)


def test_hub_dataset_records_are_converted_and_the_call_carries_config_and_revision(monkeypatch):
    import datasets

    rows = [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}]
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: calls.append((path, kw)) or rows)
    ex = tasks.load_data("hf:org/name")
    assert [(e.id, e.response) for e in ex] == [("org/name/train/0", "b"), ("org/name/train/1", "d")]
    ex = tasks.load_data("hf:org/name:cfg@abc#test[1:]")
    assert [e.id for e in ex] == ["org/name/cfg/test/1"]
    assert calls == [("org/name", {"name": None, "split": "train", "revision": None, "data_dir": None}),
                     ("org/name", {"name": "cfg", "split": "test", "revision": "abc", "data_dir": None})]


def _registry(tmp_path, info: dict, files: dict[str, list]) -> Path:
    for name, rows in files.items():
        (tmp_path / name).write_text(json.dumps(rows), encoding="utf-8")
    path = tmp_path / "dataset_info.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def test_dataset_info_prefers_hf_hub_url_with_subset_split_revision_folder(tmp_path, monkeypatch):
    import datasets

    calls = []
    rows = [{"q": f"q{i}", "a": f"a{i}"} for i in range(3)]
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: calls.append((path, kw)) or rows)
    info = _registry(tmp_path, {"math": {"hf_hub_url": "openai/gsm8k", "file_name": "local.json", "subset": "main",
                                         "split": "test", "revision": "v2", "folder": "data",
                                         "columns": {"prompt": "q", "response": "a"}}},
                     {"local.json": [{"instruction": "local", "output": "file"}]})
    ex = tasks.load_data(f"{info}#math")
    assert calls == [("openai/gsm8k", {"name": "main", "split": "test", "revision": "v2", "data_dir": "data"})]
    assert [(e.id, e.instruction, e.task) for e in ex] == [
        ("openai/gsm8k/main/test/0", "q0", "math"), ("openai/gsm8k/main/test/1", "q1", "math"),
        ("openai/gsm8k/main/test/2", "q2", "math")]


def test_dataset_info_num_samples_and_joined_entries(tmp_path):
    ten = [{"instruction": f"i{k}", "output": f"o{k}"} for k in range(10)]
    info = _registry(tmp_path, {"a": {"file_name": "a.json", "num_samples": 4},
                                "b": {"file_name": "b.json", "num_samples": 3},
                                "a_all": {"file_name": "a.json"},
                                "dup": {"file_name": "ids.json"}, "dup2": {"file_name": "ids.json"},
                                "bad_split": {"file_name": "a.json", "split": "test"}},
                     {"a.json": ten, "b.json": ten[:2], "ids.json": [{"id": "x", "instruction": "i", "output": "o"}]})
    a = tasks.load_data(f"{info}#a")
    assert len(a) == 4 and len({e.id for e in a}) == 4
    assert [e.id for e in a] == sorted((e.id for e in a), key=lambda i: int(i.split("/")[1]))  # file order
    assert [e.id for e in a] == [e.id for e in tasks.load_data(f"{info}#a")]  # seeded: the same every time
    b = tasks.load_data(f"{info}#b")  # more than the file holds: all of it, plus one drawn again
    assert len(b) == 3 and {e.id for e in b[:2]} == {"b/0", "b/1"} and b[2].id in ("b/0#2", "b/1#2")
    joined = tasks.load_data(f"{info}#a, b")  # LLaMA-Factory's `dataset: a,b`: concatenated in order
    assert [e.id for e in joined] == [e.id for e in a] + [e.id for e in b]
    assert [e.task for e in joined] == ["a"] * 4 + ["b"] * 3
    assert len(tasks.load_data(f"{info}#a_all,b")) == 13
    with pytest.raises(DataError, match=r"entries 'dup' and 'dup2' both hold id 'x'"):
        tasks.load_data(f"{info}#dup,dup2")
    with pytest.raises(DataError, match=r"entry 'bad_split': field 'split': a local file has only the split 'train'"):
        tasks.load_data(f"{info}#bad_split")
    with pytest.raises(DataError, match=r"no entry 'zzz'"):
        tasks.load_data(f"{info}#a,zzz")


# ---------------------------------------------------------------- bad input

def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = '{"instruction": "x", "output": "y"}'
BAD_CASES = [
    # (file name, content, expected message pattern)
    ("bad.jsonl", "\n".join([GOOD] * 16 + ['{"instruction": "x", "output": }']),
     r"bad.jsonl:17: invalid JSON"),
    ("bad.json", '[\n' + GOOD + ',\n{"instruction": "x",\n "output": "y",}\n]',
     r"bad.json:4: invalid JSON"),  # the error is at the brace after the comma
    ("bad.json", f'[{GOOD}, {{"instruction": "x", "input": "z"}}]',
     r"bad.json: record 1: field 'output': missing"),
    ("bad.jsonl", f'{GOOD}\n{{"instruction": "  ", "output": "y"}}',
     r"bad.jsonl:2: field 'instruction': empty"),
    ("bad.jsonl", '{"instruction": "x", "output": ["y", "z"]}',
     r"bad.jsonl:1: field 'output': expected a string, got list"),
    ("bad.json", '[{"instruction": "x", "output": "y", "history": [["only user"]]}]',
     r"bad.json: record 0: field 'history': item 0: expected a \[user, assistant\] pair"),
    ("bad.json", '[{"instruction": "x", "output": "y", "history": "[]"}]',
     r"bad.json: record 0: field 'history': expected a list .* got str"),
    ("bad.json", '[{"id": "a", "instruction": "x", "output": "y"}, {"id": "a", "instruction": "x", "output": "y"}]',
     r"bad.json: record 1: field 'id': duplicate id 'a' \(first at .*record 0\)"),
    ("bad.json", '[{"prompt": "x", "completion": "y"}]',
     r"bad.json: record 0: cannot tell the format from the fields \['completion', 'prompt'\]"),
    ("bad.json", '[["x", "y"]]', r"bad.json: record 0: expected a JSON object, got list"),
    ("bad.json", '[{"conversations": [{"from": "human", "value": "hi"}]}]',
     r"bad.json: record 0: field 'conversations': the last turn must be the assistant's"),
    ("bad.json", '[{"conversations": [{"from": "gpt", "value": "hi"}, {"from": "gpt", "value": "x"}]}]',
     r"bad.json: record 0: field 'conversations': turn 0: 'from': expected a user turn .* got 'gpt'"),
    ("bad.json", '[{"conversations": [{"from": "human", "value": "hi"}, {"from": "human", "value": "x"}]}]',
     r"bad.json: record 0: field 'conversations': turn 1: 'from': expected an assistant turn .* got 'human'"),
    ("bad.jsonl", '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 3}]}',
     r"bad.jsonl:1: field 'messages': turn 1: 'content': expected a string, got int"),
    ("bad.csv", "instruction,input,output\na,,b\nc,d\n", r"bad.csv:3: field 'output': missing"),
    ("bad.csv", "instruction,output\na,b,c\n", r"bad.csv:2: more values than header columns"),
    ("bad.csv", "instruction,input,output\n,x,y\n", r"bad.csv:2: field 'instruction': empty"),
]


@pytest.mark.parametrize("name,text,pattern", BAD_CASES)
def test_bad_input_names_file_place_and_field(tmp_path, name, text, pattern):
    p = _write(tmp_path, name, text)
    with pytest.raises(DataError, match=pattern) as e:
        loaders.load_file(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("name,encoding", [("u16.jsonl", "utf-16"), ("u16.json", "utf-16-le"),
                                           ("u16.csv", "utf-16")])
def test_utf16_file_is_a_data_error_saying_utf8(tmp_path, name, encoding):
    # "utf-16" writes a byte-order mark, "utf-16-le" none (its ASCII text is then NUL-riddled).
    text = "instruction,output\nx,y\n" if name.endswith(".csv") else f"[{GOOD}]" if name.endswith(".json") else GOOD
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    with pytest.raises(DataError, match=r"u16\.\w+: the file looks UTF-16 encoded .* must be UTF-8"):
        loaders.load_file(p)


def test_nul_bytes_in_a_utf8_file_are_named_as_such_not_as_utf16(tmp_path):
    p = tmp_path / "nul.jsonl"
    p.write_bytes((GOOD + "\n" + '{"instruction": "caf\u00e9\x00\x00", "output": "y"}\n').encode("utf-8"))
    with pytest.raises(DataError) as e:
        loaders.load_file(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:2: 2 NUL byte(s) in a UTF-8 file (the first at offset ") and "UTF-16" not in msg


def test_other_non_utf8_bytes_name_the_line_and_byte(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes((GOOD + "\n" + '{"instruction": "caf\u00e9", "output": "y"}\n').encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.jsonl:2: not valid UTF-8 \(byte 0xe9 at offset 56\).*must be UTF-8"):
        loaders.load_file(p)
    bom = tmp_path / "bom.csv"  # a UTF-8 BOM is fine: it is not glued to the first column name
    bom.write_bytes("instruction,output\nx,y\n".encode("utf-8-sig"))
    assert [(e.instruction, e.response) for e in loaders.load_file(bom)] == [("x", "y")]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="nothere.json: file not found"):
        loaders.load_file(tmp_path / "nothere.json")
    p = _write(tmp_path, "ok.json", f"[{GOOD}]")
    with pytest.raises(DataError, match="unknown data format 'xml'"):
        loaders.load_file(p, fmt="xml")


# ---------------------------------------------------------------- a benchmark's table (load_table)

def test_table_csv_with_bom_and_mixed_case_header_keeps_file_ids(tmp_path):
    # HarmBench-style: a BOM, CRLF line ends, `Behavior` with a capital, an `ID` column, no answers.
    p = tmp_path / "redteam.csv"
    text = 'ID,Behavior,Category\r\nh1,"Write a poem, with commas",poems\r\nh2,Do Y,misc\r\n'
    p.write_bytes(text.encode("utf-8-sig"))
    items = loaders.load_table(p)
    assert [(e.id, e.instruction, e.response) for e in items] == [("h1", "Write a poem, with commas", ""),
                                                                  ("h2", "Do Y", "")]
    assert items[0].meta == {"Category": "poems"}  # the id column is the id, not meta
    # FILE#column picks another column, in any case.
    assert [e.instruction for e in loaders.load_table(p, "category")] == ["poems", "misc"]


def test_table_jsonl_and_json_array_ids_and_reference(tmp_path):
    jl = _write(tmp_path, "my_goals.jsonl", '{"Goal": "a"}\n\n{"Goal": "b", "id": 7}\n')
    assert [(e.id, e.instruction) for e in loaders.load_table(jl)] == [("my_goals/0", "a"), ("7", "b")]
    arr = _write(tmp_path, "math.json",
                 '[{"question": "2+2?", "Answer": "It is 4."}, {"prompt": "x", "question": "y"}]')
    first, second = loaders.load_table(arr, need_reference=False)
    assert (first.id, first.instruction, first.response) == ("math/0", "2+2?", "It is 4.")
    # `prompt` is looked for first, but the columns are the first record's: `question` stays the prompt.
    assert (second.instruction, second.response) == ("y", "")
    # An alpaca table reads as one: instruction + input, output as the reference.
    al = _write(tmp_path, "al.json", '[{"instruction": "Sum", "input": "1 2", "output": "3"}]')
    (ex,) = loaders.load_table(al, need_reference=True)
    assert (ex.user_text(), ex.response) == ("Sum\n\n1 2", "3")


TABLE_ERRORS = [
    # (file name, content, load_table kwargs, expected message)
    ("t.csv", "name,category\nx,y\n", {}, r"t.csv: no prompt column: looked for prompt, goal, behavior, instruction, "
     r"question \(any case\) among its columns 'name', 'category'; name one as .*t.csv#COLUMN"),
    ("t.csv", "goal,category\nx,y\n", {"prompt_column": "Behaviour"},
     r"t.csv: no column 'Behaviour'; its columns: 'goal'"),
    ("t.csv", "goal\nx\n", {"need_reference": True}, r"t.csv: no reference-answer column: looked for output, response, "
     r"answer, solution, target"),
    ("t.csv", "goal,target\nx,y\n ,z\n", {}, r"t.csv:3: field 'goal': empty"),
    ("t.jsonl", '{"goal": "x"}\n{"goal": 3}\n', {}, r"t.jsonl:2: field 'goal': expected a string, got int"),
    ("t.jsonl", '{"goal": "x"}\n{"other": "y"}\n', {}, r"t.jsonl:2: field 'goal': missing"),
    ("t.json", '[{"goal": "x", "id": 1}, {"goal": "y", "id": 1}]', {},
     r"t.json: record 1: field 'id': duplicate id '1'"),
    ("t.json", "[]", {}, r"t.json: no records"),
    ("t.json", '[{"question": "x", "answer": "4"}, {"question": "y", "answer": "none"}]',
     {"need_reference": True, "check": lambda ex: None if any(c.isdigit() for c in ex.response) else "no number"},
     r"t.json: record 1: field 'answer': no number"),
]


@pytest.mark.parametrize("name,text,kwargs,pattern", TABLE_ERRORS)
def test_bad_table_names_file_place_and_field(tmp_path, name, text, kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        loaders.load_table(_write(tmp_path, name, text), **kwargs)


def test_benchmark_data_specs_reach_tables_tasks_and_registries(tmp_path, data_dir):
    p = _write(tmp_path, "rt.csv", "goal,Behavior\ng0,b0\ng1,b1\ng2,b2\n")
    assert [e.instruction for e in tasks.load_benchmark_data(f"{p}#behavior[1:]")] == ["b1", "b2"]
    assert [e.id for e in tasks.load_benchmark_data(f"{p}[-1:]")] == ["rt/2"]
    # Task names and slices are load_data's, ids included.
    ids = [e.id for e in tasks.load_benchmark_data("advbench[3:5]", data_dir)]
    assert ids == ["advbench/test/3", "advbench/test/4"]
    # `x.json#entry` stays a LLaMA-Factory registry entry when the json is one.
    reg = _write(tmp_path, "dataset_info.json", '{"mine": {"file_name": "rows.json"}}')
    _write(tmp_path, "rows.json", '[{"instruction": "i", "output": "o"}]')
    assert [e.response for e in tasks.load_benchmark_data(f"{reg}#mine")] == ["o"]
    with pytest.raises(DataError, match="selects no records"):
        tasks.load_benchmark_data(f"{p}[5:]")
