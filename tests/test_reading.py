"""Files as practice systems and Excel write them: each defect found on real-world exports, on a small hand-made file.

Every case checks what a clinic's data person sees: the rows accepted, the
rows rejected with their row number and reason, or one clear error naming the
file; never a traceback, a silent change of a value or a lost row.
"""

from __future__ import annotations

import datetime as dt
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from outcomes import Dataset, DatasetError, read_dataset
from outcomes.cli import main
from outcomes.contract import ROW

DATA = Path(__file__).parent / "data"
EPISODES_HEADER = "episode_id,patient_id,condition,start_date"
TREATMENTS_HEADER = "episode_id,visit_date,cpt_code,technique"
MakeDataset = Callable[..., Path]


@pytest.fixture
def load(assert_reconciles: Callable[[Dataset], None]) -> Callable[[Path], Dataset]:
    """read_dataset, plus the check that every row is accepted or rejected exactly once."""

    def _load(folder: Path) -> Dataset:
        ds = read_dataset(folder)
        assert_reconciles(ds)
        return ds

    return _load


def issues(ds: Dataset, table: str) -> list[tuple[int, str, str]]:
    frame = ds.rejected.filter(pl.col("table") == table)
    return [(int(r), str(c), str(m)) for r, c, m in frame.select("row", "column", "reason").iter_rows()]


def accepted(ds: Dataset, table: str, *columns: str) -> list[tuple[object, ...]]:
    return ds.table(table).select("row", *columns).rows()


# ----------------------------------------------------------------- silent change of values


def test_parquet_binary_text_is_decoded_and_bytes_that_are_not_utf8_are_rejected(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    episodes = pl.DataFrame(
        {
            "episode_id": ["E1", "E2", "E3"],
            "patient_id": ["P1", "P2", "P3"],
            "condition": ["neck_pain"] * 3,
            "start_date": [dt.date(2024, 1, 1)] * 3,
            "payer": pl.Series([b"medicare", b"S\xe9curit\xe9", "Sécurité".encode()], dtype=pl.Binary),
        }
    )
    ds = load(make_dataset(episodes=episodes, fmt={"episodes": "parquet"}))
    assert accepted(ds, "episodes", "payer") == [(2, "medicare"), (4, "Sécurité")]
    assert ds.rejected.filter(pl.col("table") == "episodes").select("row", "column", "rule", "reason").rows() == [
        (3, "payer", "encoding", "payer holds bytes that are not UTF-8 text (byte 0xE9 at position 2)")
    ]


# ----------------------------------------------------------------- rows silently lost


def test_old_mac_line_endings_are_read(make_dataset: MakeDataset, load: Callable[[Path], Dataset]) -> None:
    rows = "".join(f"E{i},P{i},neck_pain,2024-01-01\r" for i in range(1, 3001))
    ds = load(make_dataset(episodes=(EPISODES_HEADER + "\r" + rows).encode()))
    assert ds.n_read["episodes"] == 3000
    assert ds.is_clean
    assert accepted(ds, "episodes", "episode_id")[-1] == (3001, "E3000")


def test_a_quote_inside_a_header_name_keeps_the_rows(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    text = EPISODES_HEADER + ',patient"s note\nE1,P1,neck_pain,2024-01-01,ok\n'
    ds = load(make_dataset(episodes=text.encode()))
    assert accepted(ds, "episodes", "episode_id", 'patient"s note') == [(2, "E1", "ok")]


def test_a_doubled_quote_in_a_quoted_header_name_is_one_quote(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    text = EPISODES_HEADER + ',"the ""why"""\nE1,P1,neck_pain,2024-01-01,because\n'
    ds = load(make_dataset(episodes=text.encode()))
    assert 'the "why"' in ds.episodes.columns


# ----------------------------------------------------------------- tracebacks


def test_cr_line_endings_with_a_line_feed_inside_a_quoted_cell_and_no_final_line_ending(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    text = EPISODES_HEADER + ',note\rE1,P1,neck_pain,2024-01-01,"two\nlines"\rE2,P2,neck_pain,2024-01-01,x'
    ds = load(make_dataset(episodes=text.encode()))
    assert accepted(ds, "episodes", "note") == [(2, "two\nlines"), (3, "x")]


def test_blank_first_line_extra_field_and_blank_row(make_dataset: MakeDataset, load: Callable[[Path], Dataset]) -> None:
    text = "\n" + EPISODES_HEADER + "\nE1,P1,neck_pain,2024-01-01,surplus\n\nE2,P2,neck_pain,2024-01-01\n"
    ds = load(make_dataset(episodes=text.encode()))
    # spreadsheet rows: 1 blank, 2 header, 3 E1, 4 blank, 5 E2
    assert issues(ds, "episodes") == [(3, "", "the row has 5 fields but the header has 4 (extra: 'surplus')")]
    assert accepted(ds, "episodes", "episode_id") == [(5, "E2")]


def test_a_damaged_parquet_file_with_an_intact_footer_is_a_dataset_error(make_dataset: MakeDataset) -> None:
    damaged = DATA / "episodes-damaged-pages.parquet"  # a polars-written file with bytes changed in its pages
    with pytest.raises(BaseException) as raw:  # noqa: PT011 - the point is that it is not an Exception
        pl.read_parquet(damaged)
    assert not isinstance(raw.value, Exception)  # a Rust panic (pyo3 PanicException), which passes `except Exception`
    folder = make_dataset()
    (folder / "episodes.csv").unlink()
    shutil.copy(damaged, folder / "episodes.parquet")
    with pytest.raises(DatasetError, match=r"episodes\.parquet: not a readable Parquet file"):
        read_dataset(folder)


@pytest.mark.parametrize("name", ["__typed_value", "__episode_start_date", "__catalog_min", "__flag0", "__empty"])
def test_a_column_named_like_an_internal_helper_is_kept(
    name: str, make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(
        make_dataset(
            episodes=f"{EPISODES_HEADER},{name}\nE1,P1,neck_pain,2024-01-01,kept\n",
            measurements=f"episode_id,measured_on,measure,value,{name}\nE1,2024-01-02,nprs,5,m\n",
        )
    )
    assert ds.is_clean
    assert accepted(ds, "episodes", name) == [(2, "kept")]
    assert accepted(ds, "measurements", "value", name) == [(2, 5.0, "m")]


@pytest.mark.parametrize("name", ["reason", "rule", "column", "table"])
def test_columns_named_like_the_rejection_table_do_not_collide(
    name: str, make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    text = f"{EPISODES_HEADER},{name}\nE1,P1,neck_pain,2024-01-01,a\nE2,P2,neck_pain,2024-01-01,b,surplus\n"
    ds = load(make_dataset(episodes=text.encode()))
    assert accepted(ds, "episodes", name) == [(2, "a")]
    assert issues(ds, "episodes") == [(3, "", "the row has 6 fields but the header has 5 (extra: 'surplus')")]


# ----------------------------------------------------------------- wrong accounting


def test_an_episode_id_whose_second_copy_is_malformed_rejects_both(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(
        make_dataset(
            episodes=f"{EPISODES_HEADER}\nE1,P1,neck_pain,2024-01-01\nE1,P1,neck_pain,2024-01-01,x,y\n",
            treatments=f"{TREATMENTS_HEADER}\nE1,2024-01-02,97140,joint_mobilization\n",
        )
    )
    assert issues(ds, "episodes") == [
        (
            2,
            "episode_id",
            "episode_id 'E1' appears in 2 rows (rows 2, 3); every row with a duplicated episode_id is rejected",
        ),
        (3, "", "the row has 6 fields but the header has 4 (extra: 'x,y')"),
    ]
    assert issues(ds, "treatments") == [(2, "episode_id", "episode E1 was rejected")]


def test_a_blank_first_line_does_not_shift_row_numbers(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    text = "\n" + EPISODES_HEADER + "\nE1,P1,neck_pain,2024-01-01\nE2,P2,neck_pain,2024-13-01\n"
    ds = load(make_dataset(episodes=text.encode()))
    assert issues(ds, "episodes") == [(4, "start_date", "start_date '2024-13-01' is not a calendar date")]
    assert accepted(ds, "episodes", "episode_id") == [(3, "E1")]


@pytest.mark.parametrize(
    ("written", "reason"), [("0000-01-01", "is before 1900-01-01"), ("9999-12-31", "is after 2099-12-31")]
)
def test_dates_outside_the_plausible_range_are_rejected(
    written: str, reason: str, make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(make_dataset(episodes=f"{EPISODES_HEADER}\nE1,P1,neck_pain,{written}\n"))
    assert issues(ds, "episodes") == [(2, "start_date", f"start_date {written} {reason}")]


# ----------------------------------------------------------------- messages a data person can act on


def test_an_inch_mark_inside_a_field_is_kept_as_written(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    text = EPISODES_HEADER + ',note\nE1,P1,neck_pain,2024-01-01,knee 5" swelling\nE2,P2,neck_pain,2024-01-01,ok\n'
    ds = load(make_dataset(episodes=text.encode()))
    assert accepted(ds, "episodes", "note") == [(2, 'knee 5" swelling'), (3, "ok")]


def test_a_misplaced_quote_rejects_its_row_only_and_names_the_line(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    text = EPISODES_HEADER + ',note\nE1,P1,neck_pain,2024-01-01,"said "no" twice"\nE2,P2,neck_pain,2024-01-01,ok\n'
    ds = load(make_dataset(episodes=text.encode()))
    [(row, column, reason)] = issues(ds, "episodes")
    assert (row, column) == (2, "")
    assert reason.startswith('line 2 cannot be split into fields: a quote (") is misplaced')
    assert accepted(ds, "episodes", "episode_id") == [(3, "E2")]


def test_an_unclosed_quote_names_the_line_where_it_opens_and_quotes_no_file_content(make_dataset: MakeDataset) -> None:
    rest = "".join(f"E{i},P{i},neck_pain,2024-01-01\n" for i in range(3, 500))
    folder = make_dataset(
        episodes=f'{EPISODES_HEADER}\nE1,P1,neck_pain,2024-01-01\nE2,"P2,neck_pain,2024-01-01\n{rest}'
    )
    with pytest.raises(DatasetError) as info:
        read_dataset(folder)
    message = str(info.value)
    assert 'line 3: a quote (") opens a field here and is never closed' in message
    assert "E499" not in message
    assert len(message) < 300


def test_a_semicolon_separated_file_with_decimal_commas_is_read_and_said_so(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(
        make_dataset(
            episodes="episode_id;patient_id;condition;start_date\nE1;P1;neck_pain;2024-01-01\n",
            measurements="episode_id;measured_on;measure;value\nE1;2024-01-02;vas;72,5\nE1;2024-01-20;vas;30\n",
        )
    )
    assert ds.is_clean
    assert accepted(ds, "measurements", "value") == [(2, 72.5), (3, 30.0)]
    assert any("measurements.csv: read as separated by semicolons" in n for n in ds.notes)
    assert any("decimal comma" in n for n in ds.notes)


def test_empty_trailing_header_cells_are_not_duplicate_names(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(make_dataset(episodes=f"{EPISODES_HEADER},,\nE1,P1,neck_pain,2024-01-01,,\n"))
    assert ds.is_clean
    assert ds.episodes.columns[-1] != ""  # the two unnamed, empty columns are dropped
    assert not [c for c in ds.episodes.columns if c.startswith("column_")]


def test_an_unnamed_column_with_values_keeps_them(make_dataset: MakeDataset, load: Callable[[Path], Dataset]) -> None:
    ds = load(make_dataset(episodes=f"{EPISODES_HEADER},\nE1,P1,neck_pain,2024-01-01,remember me\n"))
    assert accepted(ds, "episodes", "column_5") == [(2, "remember me")]


def test_a_huge_invalid_value_is_quoted_short(make_dataset: MakeDataset, load: Callable[[Path], Dataset]) -> None:
    huge = "x" * 1_000_000
    ds = load(make_dataset(episodes=f"{EPISODES_HEADER},age\nE1,P1,neck_pain,2024-01-01,{huge}\n"))
    [(row, column, reason)] = issues(ds, "episodes")
    assert (row, column) == (2, "age")
    assert reason == "age '" + "x" * 59 + "… (1000000 characters)' is not a whole number"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2025-08-01T10:00:00", "start_date '2025-08-01T10:00:00' has a time of day; give the date only (YYYY-MM-DD)"),
        ("2025-08-01 09:30", "start_date '2025-08-01 09:30' has a time of day; give the date only (YYYY-MM-DD)"),
        ("2025-02-30", "start_date '2025-02-30' is not a calendar date"),
        ("01/08/2025", "start_date '01/08/2025' is not a date in ISO 8601 form (YYYY-MM-DD)"),
        ("2025-08-01T00:00:00", None),
        ("2025-08-01 00:00", None),
        ("2025-08-01T00:00:00.000Z", None),
    ],
)
def test_dates_with_a_time_of_day(
    written: str, expected: str | None, make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(make_dataset(episodes=f"{EPISODES_HEADER}\nE1,P1,neck_pain,{written}\n"))
    if expected is None:
        assert accepted(ds, "episodes", "start_date") == [(2, dt.date(2025, 8, 1))]
    else:
        assert issues(ds, "episodes") == [(2, "start_date", expected)]


def test_ids_in_nfc_and_nfd_are_the_same_id_and_case_differences_are_explained(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "Ré1"), unicodedata.normalize("NFD", "Ré1")
    assert nfc != nfd
    ds = load(
        make_dataset(
            episodes=f"{EPISODES_HEADER}\n{nfc},P1,neck_pain,2024-01-01\nE2,P2,neck_pain,2024-01-01\n",
            treatments=(
                f"{TREATMENTS_HEADER}\n{nfd},2024-01-02,97140,joint_mobilization\ne2,2024-01-02,97140,joint_mobilization\n"
            ),
        )
    )
    assert accepted(ds, "treatments", "episode_id") == [(2, nfc)]
    assert issues(ds, "treatments") == [
        (3, "episode_id", "episode e2 does not exist in episodes (episodes has E2; ids are case-sensitive)")
    ]


# ----------------------------------------------------------------- inconveniences that cost whole episodes


def test_trailing_blank_lines_leave_a_clean_file_clean(
    make_dataset: MakeDataset, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_dataset(episodes=f"{EPISODES_HEADER}\nE1,P1,neck_pain,2024-01-01\n\n\n\r\n")
    assert main(["validate", str(folder)]) == 0
    assert read_dataset(folder).n_read["episodes"] == 1


def test_a_trailing_comma_on_data_lines_only_keeps_every_row(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    rows = "".join(f"E{i},P{i},neck_pain,2024-01-01,\n" for i in range(1, 6))
    ds = load(make_dataset(episodes=f"{EPISODES_HEADER}\n{rows}"))
    assert ds.is_clean
    assert len(accepted(ds, "episodes")) == 5


@pytest.mark.parametrize("token", ["NA", "n/a", "N/A", "NaN", "null", "#N/A", "-", " na "])
def test_missing_value_tokens_in_optional_columns_keep_the_episode(
    token: str, make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(
        make_dataset(
            episodes=f"{EPISODES_HEADER},age,sex\nE1,P1,neck_pain,2024-01-01,{token},{token}\n",
            measurements=f"episode_id,measured_on,measure,value,side\nE1,2024-01-02,nprs,6,{token}\n",
        )
    )
    assert ds.is_clean
    assert accepted(ds, "episodes", "age", "sex") == [(2, None, None)]
    assert accepted(ds, "measurements", "side") == [(2, None)]


def test_a_missing_value_token_in_a_required_column_is_reported_as_empty(
    make_dataset: MakeDataset, load: Callable[[Path], Dataset]
) -> None:
    ds = load(make_dataset(episodes=f"{EPISODES_HEADER}\nE1,P1,N/A,2024-01-01\n"))
    assert issues(ds, "episodes") == [(2, "condition", "condition is empty; it is required")]


def test_nan_in_a_parquet_number_column_is_missing(make_dataset: MakeDataset, load: Callable[[Path], Dataset]) -> None:
    episodes = pl.DataFrame(
        {
            "episode_id": ["E1"],
            "patient_id": ["P1"],
            "condition": ["neck_pain"],
            "start_date": [dt.date(2024, 1, 1)],
            "age": [float("nan")],
        }
    )
    ds = load(make_dataset(episodes=episodes, fmt={"episodes": "parquet"}))
    assert accepted(ds, "episodes", "age") == [(2, None)]


# ----------------------------------------------------------------- other encodings


@pytest.mark.parametrize(
    ("encoding", "message"),
    [("utf-16", "is UTF-16 text"), ("utf-16-le", "holds NUL bytes"), ("utf-32", "is UTF-32 text")],
)
def test_other_unicode_encodings_are_named(encoding: str, message: str, make_dataset: MakeDataset) -> None:
    folder = make_dataset()
    (folder / "episodes.csv").write_bytes(f"{EPISODES_HEADER}\nE1,P1,neck_pain,2024-01-01\n".encode(encoding))
    with pytest.raises(DatasetError, match=message):
        read_dataset(folder)


def test_a_utf8_byte_order_mark_is_accepted(make_dataset: MakeDataset, load: Callable[[Path], Dataset]) -> None:
    ds = load(make_dataset(episodes=f"\ufeff{EPISODES_HEADER}\r\nE1,P1,neck_pain,2024-01-01\r\n".encode()))
    assert accepted(ds, "episodes", "episode_id") == [(2, "E1")]


# ----------------------------------------------------------------- the two CSV readers agree

_PLAIN_FILES = {
    "lf": "a,b,c\n1,2,3\n4,,6\n",
    "crlf": "a,b,c\r\n1,2,3\r\n4,,6\r\n",
    "no final line break": "a,b,c\n1,2,3\n4,5,6",
    "trailing blank lines": "a,b,c\n1,2,3\n\n\r\n",
    "blank line between records": "a,b,c\n1,2,3\n\n4,5,6\n",
    "line of bare separators": "a,b,c\n1,2,3\n,,\n4,5,6\n",
    "short record": "a,b,c\n1\n4,5,6\n",
    "trailing comma on data lines": "a,b,c\n1,2,3,\n4,5,6,\n",
    "extra text field": "a,b,c\n1,2,3,x\n4,5,6\n",
    "semicolons": "a;b;c\n1;2,5;3\n",
    "white space kept": "a,b,c\n 1 ,2,3\n",
    "quoted fields": 'a,b,c\n"1","x, y",""\n"4",5,"6"\n',
    "quoted header": '"a","b","c"\r\n1,2,3\r\n',
    "doubled quote": 'a,b,c\n1,"say ""hi""",3\n',
    "inch mark": 'a,b,c\n1,knee 5" swelling,3\n',
    "quotes inside unquoted text": 'a,b,c\n1,a "b" c,3\n4,x"",6\n',
    "text after a closing quote": 'a,b,c\n1,"a"b,3\n4,5,6\n',
    "quoted line break": 'a,b,c\n1,"two\nlines",3\n4,5,6\n',
}


@pytest.mark.parametrize("text", list(_PLAIN_FILES.values()), ids=list(_PLAIN_FILES))
def test_polars_and_the_record_reader_agree_where_polars_is_used(text: str, tmp_path: Path) -> None:
    """Where polars' reading is kept, it equals the record reader's on the same file (rows, numbers, values)."""
    from outcomes.ingest._files import _form, _read_csv_polars, _read_csv_python, clean_names

    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    form = _form(path)
    names = clean_names(form.header, path)
    python_rows, problems, _ = _read_csv_python(path, form, names)
    fast = _read_csv_polars(path, form, names) if form.plain else None
    if fast is not None:
        assert problems.is_empty()  # polars is kept only where no record is a problem
        assert fast.rows() == python_rows.rows()
    # polars' reading is used for plain files, quoted or not
    if text in (_PLAIN_FILES["lf"], _PLAIN_FILES["quoted fields"], _PLAIN_FILES["quoted header"]):
        assert fast is not None
    # and the cases that must not be read by polars are not: a blank line is skipped, bare separators are a row
    if text in (_PLAIN_FILES["blank line between records"], _PLAIN_FILES["line of bare separators"]):
        assert fast is None
        assert python_rows[ROW].to_list() == ([2, 4] if ",," not in text else [2, 3, 4])
