"""An exported Parquet file loads unchanged in pandas, polars and Hugging Face ``datasets``.

Each library reads the file as a user would (no schema given), and every record comes back with
the archive's values: strings, lists, 64-bit simhashes, and UTC timestamps that keep the instant
(DuckDB is checked in test_export.py).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from storage import Archive
from storage.article import Article, field_names
from storage.export import export
from tests.test_export import ORDER, stored
from tests.test_query import archive_dir_fixture, archive_fixture  # noqa: F401  (shared fixtures)


@pytest.fixture(name="exported")
def exported_fixture(archive: Archive, tmp_path: Path) -> tuple[Path, list[Article]]:
    result = export(archive, tmp_path / "news.parquet", "parquet")
    return result.path, stored(archive, ORDER)


def _same(record: dict[str, Any], article: Article) -> None:
    """One record read back by a library, against the stored article, field by field."""
    assert list(record) == field_names()
    for name, want in article.to_dict().items():
        got = record[name]
        if isinstance(want, datetime):
            assert isinstance(got, datetime) and got.utcoffset() is not None, name
            assert got == want, name
        elif want is None:
            assert got is None or got != got, name  # None, or NaT/NaN from pandas
        elif isinstance(want, list):
            assert list(got) == want, name
        else:
            assert got == want, name


def test_pandas(exported: tuple[Path, list[Article]]) -> None:
    path, articles = exported
    frame = pd.read_parquet(path)
    assert len(frame) == len(articles)
    assert str(frame["published_at"].dtype).startswith("datetime64[us, UTC]")
    assert frame["simhash"].dtype == "int64"
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for record, article in zip(records, articles, strict=True):
        for name in ("published_at", "updated_at", "fetched_at", "first_seen", "last_seen"):
            if record[name] is not None:
                record[name] = record[name].to_pydatetime()
        _same(record, article)


def test_polars(exported: tuple[Path, list[Article]]) -> None:
    path, articles = exported
    frame = pl.read_parquet(path)
    assert frame.height == len(articles)
    assert frame.schema["published_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["tags"] == pl.List(pl.String)
    for record, article in zip(frame.to_dicts(), articles, strict=True):
        _same(record, article)


def test_hugging_face_datasets(
    exported: tuple[Path, list[Article]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # its cache, not the user's
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    from datasets import Dataset

    path, articles = exported
    data = Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "hf" / "datasets"))
    assert isinstance(data, Dataset)
    assert data.num_rows == len(articles)
    assert list(data.column_names) == field_names()
    for record, article in zip(data, articles, strict=True):
        _same(dict(record), article)
