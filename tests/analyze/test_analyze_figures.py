"""The shift analysis's histograms and the panel/save helpers every figure of sdft uses."""

from __future__ import annotations

from sdft.analyze import figures


def _summary(values: list[float]) -> dict:
    return {"mean": sum(values) / len(values), "values": values}


def test_similarity_histograms_write_a_png_and_an_svg_with_one_panel_per_measure(tmp_path):
    pairs = {"vanilla": {"bleu4": _summary([10.0, 20.0, 90.0]), "rouge_l": _summary([0.1, 0.4])},
             "sdft": {"bleu4": _summary([60.0, 80.0]), "rouge_l": {"mean": 0.0, "values": []}}}
    paths = figures.similarity_histograms(pairs, tmp_path / "figs" / "similarity_hist")
    assert paths == [tmp_path / "figs" / "similarity_hist.png", tmp_path / "figs" / "similarity_hist.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert svg.lstrip().startswith("<?xml")
    # the measures present get their titles; cosine (absent from every pair) gets no panel
    assert "BLEU-4 vs seed" in svg and "ROUGE-L vs seed" in svg and "Embedding cosine" not in svg
    assert "vanilla (n=3)" in svg and "sdft (n=2)" in svg


def test_no_measure_in_any_pair_draws_nothing(tmp_path):
    assert figures.similarity_histograms({"v": {"n": 3}}, tmp_path / "h") == []
    assert not list(tmp_path.iterdir())


def test_panels_wrap_at_max_cols_and_save_writes_both_formats(tmp_path):
    fig, axes = figures.panels(5, width=2.0, height=1.5, max_cols=3)
    assert len(axes) == 5 and tuple(fig.get_size_inches()) == (6.0, 3.0)  # 3 columns, 2 rows
    fig1, axes1 = figures.panels(1)
    assert len(axes1) == 1 and tuple(fig1.get_size_inches()) == (4.2, 3.2)
    paths = figures.save(fig, tmp_path / "deep" / "grid")
    assert [p.name for p in paths] == ["grid.png", "grid.svg"] and all(p.stat().st_size > 0 for p in paths)
