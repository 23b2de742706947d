"""Format loaders on hand-written fixtures, and every kind of bad input naming file, place and field."""

from __future__ import annotations

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
