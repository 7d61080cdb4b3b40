"""`python -m bench.compare`: figures read only from the sections a run measured, judged against the runs' spread."""

from __future__ import annotations

from pathlib import Path

from bench.compare import main, read_figures, sections_run


def document(only: str, search_p50: float, ack_p50: int, dates_failed: bool = False) -> str:
    """A docs/benchmarks.md as one `python -m bench` run leaves it (the sections it did not run are older)."""
    command = f".venv/bin/python -m bench --only {only}" if only else "make bench"
    dates = (
        "**This section failed:**" if dates_failed else "| interpret_when (clinic rules) | 10 | 0.200 | 0.1 |"
    )
    return f"""# Benchmarks

- Last run: 2026-12-06 20:23 UTC, `{command}`

<!-- section:scheduling -->
| free-slot search, SQLite (300 queries) | p50 {search_p50} ms, p95 12.0 ms, max 40 ms | ≤ 20 ms |
<!-- /section:scheduling -->

<!-- section:whatsapp -->
| ack p50 / p95 / max | {ack_p50} / 120 / 200 ms |
<!-- /section:whatsapp -->

<!-- section:dates -->
{dates}
<!-- /section:dates -->
"""


def test_the_sections_a_run_measured_come_from_its_last_run_line() -> None:
    assert sections_run(document("scheduling whatsapp", 7.0, 70)) == {"scheduling", "whatsapp"}
    assert {"rasa", "scheduling", "whatsapp", "dates"} <= sections_run(document("", 7.0, 70))


def test_a_section_the_run_did_not_measure_or_that_failed_gives_no_figure() -> None:
    figures = read_figures(document("scheduling dates", 7.0, 70, dates_failed=True))

    assert figures == {"slot search p50 (ms)": 7.0, "slot search p95 (ms)": 12.0}


def test_a_figure_that_moved_further_than_the_runs_spread_is_outside_the_noise(
    tmp_path: Path, capsys
) -> None:
    def write(name: str, search_p50: float, ack_p50: int) -> str:
        path = tmp_path / name
        path.write_text(document("scheduling whatsapp", search_p50, ack_p50), encoding="utf-8")
        return str(path)

    before = [write("a1.md", 7.0, 70), write("a2.md", 7.4, 80)]
    after = [write("b1.md", 7.2, 95), write("b2.md", 7.1, 97)]

    assert main(["--before", *before, "--after", *after]) == 1

    out, err = capsys.readouterr()
    assert "| slot search p50 (ms) | 7 / 7.4 | 7.2 / 7.1 | 0.99 | yes |" in out
    assert "| webhook ack p50 (ms) | 70 / 80 | 95 / 97 | 1.28 | **no** |" in out
    assert "outside the noise: webhook ack p50 (ms)" in err
    assert main(["--before", *before, "--after", *before]) == 0
