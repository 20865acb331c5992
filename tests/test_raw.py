"""The raw WARC archive without Scrapy: rotation, temp names, revisits, the index, recovery, reading."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from storage.raw import (
    OPEN_SUFFIX,
    PROFILE_IDENTICAL,
    PROFILE_NOT_MODIFIED,
    WARC_SUFFIX,
    Exchange,
    RawArchiveWriter,
    RawIndex,
    iter_warc_files,
    payload_digest,
    recover_open_files,
    site_dir_name,
)
from storage.raw_read import RawReadError, decode_content, read_payload, scan_file

WARCIO = Path(sys.executable).parent / "warcio"
T0 = datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)


def exchange(
    url: str, body: bytes, *, status: int = 200, minutes: int = 0, **kw: object
) -> Exchange:
    return Exchange(
        url=url,
        site="news",
        status=status,
        body=body,
        fetched_at=T0 + timedelta(minutes=minutes),
        request_headers=[("User-Agent", "zhengwen-test"), ("Accept-Encoding", "gzip")],
        response_headers=[("Content-Type", "text/html; charset=utf-8")],
        kind="article",
        run_id="run-1",
        **kw,  # type: ignore[arg-type]
    )


def records(path: Path) -> list[tuple[str, dict[str, str], bytes]]:
    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            out.append((rec.rec_type, dict(rec.rec_headers.headers), rec.content_stream().read()))
    return out


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WARCIO), "check", str(path)], capture_output=True, text=True, check=False
    )


def page(i: int) -> bytes:
    return f"<html><body><p>第{i}篇 正文 {'字' * 400}</p></body></html>".encode()


def test_rotation_gives_complete_files_each_with_one_warcinfo(tmp_path: Path) -> None:
    writer = RawArchiveWriter(tmp_path, max_bytes=3000)
    for i in range(12):
        writer.write(exchange(f"https://news.example.com/a/{i}.html", page(i) * 3, minutes=i))
    writer.close()
    files = list(iter_warc_files(tmp_path, "news"))
    assert len(files) > 2
    assert files == writer.closed_files
    assert not list(tmp_path.rglob(f"*{OPEN_SUFFIX}"))
    urls = []
    for path in files:
        assert path.name.endswith(WARC_SUFFIX) and path.parent == tmp_path / "news"
        recs = records(path)
        assert [r[0] for r in recs].count("warcinfo") == 1 and recs[0][0] == "warcinfo"
        assert warcio_check(path).returncode == 0
        urls += [r[1]["WARC-Target-URI"] for r in recs if r[0] == "response"]
    assert urls == [f"https://news.example.com/a/{i}.html" for i in range(12)]


def test_a_file_is_open_under_a_temp_name_until_closed(tmp_path: Path) -> None:
    writer = RawArchiveWriter(tmp_path)
    written = writer.write(exchange("https://news.example.com/a/1.html", page(1)))
    writer.flush()
    in_progress = list((tmp_path / "news").iterdir())
    assert [p.name for p in in_progress] == [written.file.name + OPEN_SUFFIX]
    assert not written.file.exists()
    writer.close()
    assert written.file.exists() and not in_progress[0].exists()


def test_response_and_request_are_linked_and_carry_site_kind_and_run(tmp_path: Path) -> None:
    writer = RawArchiveWriter(tmp_path)
    writer.write(exchange("https://news.example.com/a/1.html?x=1", page(1)))
    writer.close()
    (info, _, _), (resp_type, resp, body), (req_type, req, req_http) = records(
        writer.closed_files[0]
    )
    assert (info, resp_type, req_type) == ("warcinfo", "response", "request")
    assert req["WARC-Concurrent-To"] == resp["WARC-Record-ID"]
    assert body == page(1)
    assert resp["WARC-Payload-Digest"] == payload_digest(page(1))
    assert resp["WARC-Date"] == "2024-05-01T08:00:00.123456Z"
    for h in (resp, req):
        assert (h["WARC-Zhengwen-Site"], h["WARC-Zhengwen-Kind"], h["WARC-Zhengwen-Run"]) == (
            "news",
            "article",
            "run-1",
        )
    raw = gzip.decompress(writer.closed_files[0].read_bytes())
    assert b"\r\nGET /a/1.html?x=1 HTTP/1.1\r\nHost: news.example.com\r\n" in raw
    assert b"\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n" in raw
    assert req_http.startswith(b"GET /a/1.html?x=1 HTTP/1.1") or req_http == b""


def test_identical_payloads_become_revisits_across_writers_and_304_is_not_modified(
    tmp_path: Path,
) -> None:
    url = "https://news.example.com/a/1.html"
    first = RawArchiveWriter(tmp_path)
    original = first.write(exchange(url, page(1)))
    first.close()
    index = RawIndex(tmp_path / "index.sqlite")
    stored = index.get(url)
    index.close()
    assert stored is not None and stored.digest == payload_digest(page(1))
    assert (stored.file, stored.offset) == (f"news/{original.file.name}", original.offset)

    second = RawArchiveWriter(tmp_path)  # a later run: only the index remembers
    same = second.write(exchange(url, page(1), minutes=60))
    changed = second.write(exchange(url, page(2), minutes=61))
    not_modified = second.write(exchange(url, b"", status=304, minutes=62))
    second.close()
    assert (same.record_type, same.profile) == ("revisit", PROFILE_IDENTICAL)
    assert changed.record_type == "response"
    assert (not_modified.record_type, not_modified.profile) == ("revisit", PROFILE_NOT_MODIFIED)

    recs = [r for r in records(second.closed_files[0]) if r[0] != "request"]
    revisit, response, nm = recs[1][1], recs[2][1], recs[3][1]
    assert revisit["WARC-Refers-To"] == stored.record_id
    assert revisit["WARC-Refers-To-Date"] == "2024-05-01T08:00:00.123456Z"
    assert revisit["WARC-Payload-Digest"] == stored.digest
    # The 304 refers to the newest payload, the changed page, not the first one.
    assert nm["WARC-Refers-To"] == response["WARC-Record-ID"]
    assert warcio_check(second.closed_files[0]).returncode == 0


def test_a_crashed_open_file_is_read_to_its_last_whole_record_then_recovered(
    tmp_path: Path,
) -> None:
    writer = RawArchiveWriter(tmp_path)
    for i in range(4):
        writer.write(exchange(f"https://news.example.com/a/{i}.html", page(i), minutes=i))
    writer.close()
    complete = writer.closed_files[0]
    crashed = complete.with_name("news-20240501T090000000000Z-crashed.warc.gz.open")
    data = complete.read_bytes()
    crashed.write_bytes(data[: len(data) - 200])  # the last record cut mid-way

    scan = scan_file(crashed)
    assert scan.problem is not None and "cut short" in scan.problem.message
    responses = [r for r in scan.records if r.warc_type == "response"]
    assert [r.url for r in responses] == [f"https://news.example.com/a/{i}.html" for i in range(4)]
    # The cut record was the last request: every response is whole and readable.
    assert read_payload(crashed, responses[-1].offset) == page(3)

    recovered = recover_open_files(crashed.parent)
    final = crashed.with_name(crashed.name[: -len(OPEN_SUFFIX)])
    assert recovered == [final] and not crashed.exists()
    assert warcio_check(final).returncode == 0
    assert scan_file(final).problem is None
    assert len(scan_file(final).records) == len(scan.records)


def test_recovery_leaves_a_file_a_live_writer_holds(tmp_path: Path) -> None:
    writer = RawArchiveWriter(tmp_path)
    written = writer.write(exchange("https://news.example.com/a/1.html", page(1)))
    writer.flush()
    assert recover_open_files(tmp_path / "news") == []
    assert (tmp_path / "news" / (written.file.name + OPEN_SUFFIX)).exists()
    writer.close()


def test_a_damaged_file_is_reported_and_earlier_records_still_read(tmp_path: Path) -> None:
    writer = RawArchiveWriter(tmp_path)
    offsets = [
        writer.write(exchange(f"https://news.example.com/a/{i}.html", page(i), minutes=i)).offset
        for i in range(3)
    ]
    writer.close()
    path = writer.closed_files[0]
    damaged = bytearray(path.read_bytes())
    damaged[offsets[2] + 40] ^= 0xFF
    path.write_bytes(bytes(damaged))
    scan = scan_file(path)
    assert scan.problem is not None and scan.problem.offset == offsets[2]
    assert [r.url for r in scan.records if r.warc_type == "response"] == [
        "https://news.example.com/a/0.html",
        "https://news.example.com/a/1.html",
    ]
    with pytest.raises(RawReadError) as err:
        read_payload(path, offsets[2])
    assert err.value.reason == "corrupt_record"
    garbage = tmp_path / "news" / "junk.warc.gz"
    garbage.write_bytes(b"not a warc at all\n" * 10)
    assert scan_file(garbage).problem is not None and scan_file(garbage).records == []


def test_a_gzipped_body_is_stored_as_received_and_decoded_on_read(tmp_path: Path) -> None:
    wire = gzip.compress(page(7))
    writer = RawArchiveWriter(tmp_path)
    written = writer.write(
        Exchange(
            url="https://news.example.com/a/7.html",
            site="news",
            status=200,
            body=wire,
            fetched_at=T0,
            response_headers=[("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")],
        )
    )
    writer.close()
    with open(writer.closed_files[0], "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                assert record.raw_stream.read() == wire
                # De-chunked already: the header would make readers de-chunk again.
                assert record.http_headers.get_header("Transfer-Encoding") is None
                assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert read_payload(written.file, written.offset) == page(7)
    assert decode_content(wire, "identity, gzip") == page(7)
    with pytest.raises(RawReadError) as err:
        decode_content(b"abc", "compress")
    assert err.value.reason == "content_encoding"


def test_site_folder_names_are_safe_for_any_site(tmp_path: Path) -> None:
    assert site_dir_name("news-1") == "news-1"
    for hostile in ("../../etc", "新闻", "", "A/B", "x" * 300):
        name = site_dir_name(hostile)
        assert "/" not in name and ".." not in name and 0 < len(name) <= 49
    assert site_dir_name("a/b") != site_dir_name("a_b")
    writer = RawArchiveWriter(tmp_path)
    written = writer.write(
        Exchange(url="https://x.test/", site="../../evil", status=200, body=b"x", fetched_at=T0)
    )
    writer.close()
    assert written.file.resolve().parent.parent == tmp_path.resolve()


def test_naive_times_and_bad_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RawArchiveWriter(tmp_path, max_bytes=0)
    writer = RawArchiveWriter(tmp_path)
    with pytest.raises(ValueError, match="timezone-aware"):
        writer.write(
            Exchange(
                url="https://x.test/",
                site="news",
                status=200,
                body=b"x",
                fetched_at=datetime(2024, 1, 1),
            )
        )
    writer.close()
    shutil.rmtree(tmp_path / "news", ignore_errors=True)
