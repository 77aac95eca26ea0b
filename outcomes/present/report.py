"""The HTML report: the analysis notebooks run on a dataset, joined into one self-contained page.

:func:`build_report` validates the dataset, runs each notebook of
``notebooks/`` with papermill in a temporary folder (nothing is written into
the repository or the dataset), then joins their outputs, without the code,
behind a title page into one HTML file. Charts are embedded as images, so the
file reads offline and can be e-mailed.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from outcomes.ingest import read_dataset
from outcomes.synth import demo_dataset_path

__all__ = ["NOTEBOOKS", "ReportError", "build_report", "notebooks_dir"]

NOTEBOOKS: tuple[str, ...] = (
    "01_clinic_overview",
    "02_effect_sizes",
    "03_range_of_motion",
    "05_benchmarking",
    "04_data_quality",
)
"""The notebooks of the report, in order."""

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1d; }
.jp-Notebook { max-width: 1100px; margin: 0 auto; }
table.outcomes-table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
table.outcomes-table caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
.jp-RenderedHTMLCommon table.outcomes-table th, .jp-RenderedHTMLCommon table.outcomes-table td,
table.outcomes-table th, table.outcomes-table td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em;
  text-align: left; vertical-align: top; white-space: nowrap; }
.jp-OutputArea-output { overflow-x: auto; }
table.outcomes-table thead th { border-bottom: 2px solid #555; }
p.outcomes-note { font-size: 0.8em; color: #555; margin: 0.15em 0; }
.outcomes-title { border-bottom: 3px solid #0072B2; margin-bottom: 1.5em; padding-bottom: 0.5em; }
"""


class ReportError(Exception):
    """A notebook failed while building the report."""


def notebooks_dir() -> Path:
    """Folder of the analysis notebooks: inside an installed wheel, or at the repository root."""
    package = Path(__file__).resolve().parents[1]  # outcomes/
    for candidate in (package / "notebooks", package.parent / "notebooks"):
        if (candidate / f"{NOTEBOOKS[0]}.ipynb").is_file():
            return candidate
    raise FileNotFoundError("the analysis notebooks were not found next to the outcomes package")


def _title_page(folder: Path, min_cell: int, responder_rule: str) -> str:
    ds = read_dataset(folder)
    eps = ds.episodes
    counts = {t: c for t, _, c, _ in ds.counts().iter_rows()}
    first, last = eps["start_date"].min(), eps["start_date"].max()
    period = f"{first:%B %Y} to {last:%B %Y}" if isinstance(first, dt.date) and isinstance(last, dt.date) else "–"
    rejected = int(ds.counts()["rejected"].sum())
    lines = [
        f"<h1>Outcomes report: {html.escape(folder.name)}</h1>",
        f"<p>Episodes starting {period}. {counts['episodes']:,} episodes of care, "
        f"{counts['treatments']:,} treatments and {counts['measurements']:,} measurements accepted"
        + (f"; {rejected:,} rows rejected (see Data quality)." if rejected else "; no row rejected.")
        + "</p>",
        f"<p>Produced {dt.date.today():%d %B %Y} by outcomes. Groups with fewer than {min_cell} "
        "complete episodes are suppressed. No patient or episode identifiers appear in this report. "
        f"Responders: {html.escape(_RULE_WORDS[responder_rule])}.</p>",
        "<p>Sections: 1. Clinic overview · 2. Effect sizes · 3. Range of motion · 4. Data quality</p>",
    ]
    return '<div class="outcomes-title">' + "\n".join(lines) + "</div>"


_RULE_WORDS = {
    "either": "an improvement of at least the MCID in points or in percent of baseline (the catalog's rule)",
    "both": "an improvement of at least the MCID in points and in percent of baseline",
    "absolute": "an improvement of at least the MCID in points",
    "percent": "an improvement of at least the MCID in percent of baseline",
}


def _run(name: str, folder: Path, workdir: Path, min_cell: int, responder_rule: str) -> Path:
    try:
        import papermill
    except ImportError:
        raise ReportError(
            "the report runs notebooks and needs the 'notebooks' extra: pip install 'outcomes[notebooks]'"
        ) from None

    source = notebooks_dir() / f"{name}.ipynb"
    target = workdir / f"{name}.ipynb"
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters={"dataset": str(folder), "min_cell": min_cell, "responder_rule": responder_rule},
            kernel_name="python3",
            cwd=str(workdir),
            progress_bar=False,
            log_output=False,
        )
    except papermill.PapermillExecutionError as exc:
        cell_source = str(exc.source or "").strip()
        first_line = cell_source.splitlines()[0] if cell_source else ""
        raise ReportError(
            f"notebook {name} failed: {exc.ename}: {exc.evalue} (in the cell that starts {first_line!r})"
        ) from None
    return target


def _join(executed: list[Path], title_html: str) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_markdown_cell(title_html))
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            tags = cell.get("metadata", {}).get("tags", [])
            if "parameters" in tags or "injected-parameters" in tags:
                continue
            if cell.cell_type == "code":
                cell.outputs = [
                    o for o in cell.outputs if o.get("output_type") != "stream" or o.get("name") != "stderr"
                ]
            book.cells.append(cell)
    book.metadata["title"] = "Outcomes report"
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)  # fmt: skip
    body, _ = exporter.from_notebook_node(book)
    # Offline: drop scripts fetched from the network (MathJax, require.js); the report needs neither.
    body = re.sub(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", "", body)
    body = re.sub(r"<link[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", "", body)
    return body.replace("</head>", f"<style>{_CSS}</style>\n</head>", 1)


def build_report(
    dataset: str | Path | None,
    out: str | Path,
    /,
    *,
    min_cell: int = 11,
    responder_rule: str = "either",
    progress: Callable[[str], None] | None = print,
) -> Path:
    """Run the analysis notebooks on ``dataset`` and write one self-contained HTML file.

    Parameters
    ----------
    dataset : str, pathlib.Path or None
        Dataset folder; None for the bundled demo data.
    out : str or pathlib.Path
        The HTML file to write (its folder is created).
    min_cell : int, default 11
        Small-cell threshold passed to every notebook.
    responder_rule : {"either", "both", "absolute", "percent"}, default "either"
        Passed to every notebook (see :func:`outcomes.episode_changes`).
    progress : callable, optional
        Called with one line per step (default: print).

    Raises
    ------
    DatasetError
        When the dataset cannot be read.
    ReportError
        When a notebook fails; the message names it and the error.
    """
    say = progress or (lambda _: None)
    folder = Path(dataset) if dataset is not None else demo_dataset_path()
    out_path = Path(out)
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{out_path}: the report file must end in .html")
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")
    if responder_rule not in _RULE_WORDS:
        raise ValueError(f"responder_rule must be one of {', '.join(_RULE_WORDS)}; got {responder_rule!r}")
    title = _title_page(folder, min_cell, responder_rule)
    executed = []
    with tempfile.TemporaryDirectory(prefix="outcomes-report-") as tmp:
        for i, name in enumerate(NOTEBOOKS, start=1):
            started = time.perf_counter()
            say(f"[{i}/{len(NOTEBOOKS)}] running {name} ...")
            executed.append(_run(name, folder.resolve(), Path(tmp), min_cell, responder_rule))
            say(f"[{i}/{len(NOTEBOOKS)}] {name} done in {time.perf_counter() - started:.1f} s")
        page = _join(executed, title)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    n_images = len(_embedded_images(page))
    say(f"Wrote {out_path} ({len(page.encode()) / 1e6:.1f} MB, {n_images} charts)")
    return out_path


def _embedded_images(page: str) -> list[bytes]:
    """The PNG images embedded in a report page (for tests and checks)."""
    found = re.findall(r"<img[^>]*\bsrc=\"data:image/png;base64,([A-Za-z0-9+/=\s]+)\"", page)
    return [base64.b64decode(m) for m in found]
