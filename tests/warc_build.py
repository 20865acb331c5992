"""WARC files written with warcio, as other crawlers write them: real pages of
``../shared/evaldata/`` as responses (plain, chunked, gzip-encoded), revisits, requests,
non-HTML payloads, and the damage archives carry (garbage between records, a cut-short end)."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from storage.warc_in import chunked as chunk_body
from tests.conftest import SHARED

ZH = SHARED / "evaldata" / "zh"


@dataclass(frozen=True)
class Page:
    id: str
    url: str
    html: bytes


def zh_pages(n: int) -> list[Page]:
    """The first ``n`` annotated pages of the zh set that have a URL and a date."""
    out = []
    for line in (ZH / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        t = json.loads(line)
        if t.get("url") and t.get("date") and t.get("body"):
            out.append(Page(t["id"], t["url"], (ZH / f"{t['id']}.html").read_bytes()))
        if len(out) == n:
            break
    return out


class Builder:
    """Records appended in order; ``gzip``: one gzip member per record (as Heritrix and Common
    Crawl write), else plain."""

    def __init__(self, gzip_records: bool = True) -> None:
        self.out = io.BytesIO()
        self.writer = WARCWriter(self.out, gzip=gzip_records)
        self.gzip_records = gzip_records

    def _write(self, record: Any) -> None:
        self.writer.write_record(record)
        record.raw_stream.close()  # warcio buffers a payload of unknown length in a temp file

    def warcinfo(self) -> None:
        self._write(self.writer.create_warcinfo_record("test.warc.gz", {"software": "tests"}))

    def response(
        self,
        url: str,
        body: bytes,
        date: datetime,
        *,
        status: str = "200 OK",
        content_type: str | None = "text/html; charset=utf-8",
        chunked: bool = False,
        gzip_body: bool = False,
    ) -> str:
        headers = [("Server", "test")]
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        payload = body
        if gzip_body:
            payload = gzip.compress(payload)
            headers.append(("Content-Encoding", "gzip"))
        if chunked:
            payload = chunk_body(payload)
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(len(payload))))
        http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
        record = self.writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(payload),
            http_headers=http,
            warc_headers_dict={"WARC-Date": _warc_date(date)},
        )
        self._write(record)
        return str(record.rec_headers.get_header("WARC-Payload-Digest"))

    def request(self, url: str, date: datetime) -> None:
        http = StatusAndHeaders(f"GET {url} HTTP/1.1", [("Host", "x")], is_http_request=True)
        record = self.writer.create_warc_record(
            url, "request", http_headers=http, warc_headers_dict={"WARC-Date": _warc_date(date)}
        )
        self._write(record)

    def revisit(
        self, url: str, digest: str, original_url: str, original: datetime, date: datetime
    ) -> None:
        record = self.writer.create_revisit_record(url, digest, original_url, _warc_date(original))
        record.rec_headers.replace_header("WARC-Date", _warc_date(date))
        self._write(record)

    def by_hand(self, url: str, date: datetime, block: bytes, rec_type: str = "response") -> None:
        """A record written byte by byte: valid WARC headers around any ``block`` (a response
        whose HTTP message is broken, which warcio's writer would not write)."""
        head = (
            f"WARC/1.0\r\nWARC-Type: {rec_type}\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: {_warc_date(date)}\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(block)}\r\n\r\n"
        ).encode()
        record = head + block + b"\r\n\r\n"
        self.raw(gzip.compress(record) if self.gzip_records else record)

    def garbage(self, data: bytes = b"this is not a WARC record\r\n" * 20) -> None:
        self.raw(gzip.compress(data) if self.gzip_records else data)

    def raw(self, data: bytes) -> None:
        """Bytes appended as they are (a record edited by hand, garbage)."""
        self.out.write(data)

    def bytes(self) -> bytes:
        return self.out.getvalue()

    def save(self, path: Path, *, cut_last: int = 0) -> Path:
        data = self.bytes()
        path.write_bytes(data[: len(data) - cut_last] if cut_last else data)
        return path


def _warc_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def arc_file(path: Path, pages: list[Page], date: datetime) -> Path:
    """An ARC (version 1) file of ``pages`` as HTTP responses, as the Internet Archive wrote
    them before WARC: a version block, then ``URL IP DATE TYPE LENGTH`` and the response."""
    stamp = date.strftime("%Y%m%d%H%M%S")
    desc = b"1 0 tests\nURL IP-address Archive-date Content-type Archive-length\n"
    out = [
        b"filedesc://%s 0.0.0.0 %s text/plain %d\n"
        % (path.name.encode(), stamp.encode(), len(desc))
    ]
    out.append(desc + b"\n")
    for page in pages:
        http = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n" % len(page.html)
        ) + page.html
        head = b"%s 127.0.0.1 %s text/html %d\n" % (page.url.encode(), stamp.encode(), len(http))
        out.append(head + http + b"\n")
    path.write_bytes(b"".join(out))
    return path
