"""Reading the raw archive back: record heads for planning, then one payload at a time.

A reader must survive what the disk holds after years: a file cut short by a crash (``.open``)
or corrupted later. Every whole record before the damage is read; the damage is reported as a
`FileProblem` (file, offset, what) and the rest of that file is skipped, never a crash. A
payload is checked against its ``WARC-Payload-Digest`` before anyone extracts from it.

No Scrapy here; warcio does the WARC parsing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from storage.raw import (
    H_KIND,
    H_RUN,
    H_SITE,
    OPEN_SUFFIX,
    parse_warc_date,
    payload_digest,
    whole_members_end,
)

#: Bodies larger than this after decoding are refused: the crawler's own page limit is 10 MB,
#: so anything far beyond it is a decompression bomb, not a news page.
MAX_DECODED_BYTES: Final = 64 * 1024 * 1024


class RawReadError(Exception):
    """A record could not be read or decoded; ``reason`` is a short stable counter key."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RecordHead:
    """A record's WARC and HTTP headers, without its payload."""

    file: Path
    offset: int
    warc_type: str
    record_id: str
    url: str
    date: datetime
    site: str | None = None
    kind: str | None = None
    run_id: str | None = None
    status: int | None = None
    profile: str | None = None
    refers_to: str | None = None
    payload_digest: str | None = None
    content_type: str | None = None
    content_encoding: str | None = None


@dataclass(frozen=True, slots=True)
class FileProblem:
    file: Path
    offset: int
    message: str


@dataclass(slots=True)
class FileScan:
    file: Path
    records: list[RecordHead]
    problem: FileProblem | None = None


def _head(path: Path, offset: int, record: Any) -> RecordHead:
    h = record.rec_headers
    status: int | None = None
    content_type = content_encoding = None
    if record.http_headers is not None and record.rec_type in ("response", "revisit"):
        try:
            status = int(record.http_headers.get_statuscode())
        except (TypeError, ValueError):
            status = None
        content_type = record.http_headers.get_header("Content-Type")
        content_encoding = record.http_headers.get_header("Content-Encoding")
    return RecordHead(
        file=path,
        offset=offset,
        warc_type=record.rec_type,
        record_id=h.get_header("WARC-Record-ID") or "",
        url=h.get_header("WARC-Target-URI") or "",
        date=parse_warc_date(h.get_header("WARC-Date") or ""),
        site=h.get_header(H_SITE),
        kind=h.get_header(H_KIND),
        run_id=h.get_header(H_RUN),
        status=status,
        profile=h.get_header("WARC-Profile"),
        refers_to=h.get_header("WARC-Refers-To"),
        payload_digest=h.get_header("WARC-Payload-Digest"),
        content_type=content_type,
        content_encoding=content_encoding,
    )


def scan_file(path: Path) -> FileScan:
    """Heads of every whole record; damage ends the scan and is reported.

    warcio alone stops quietly at a cut gzip member, so the end of the whole records is found
    first (`whole_members_end`) and anything at or past it is reported, not read.
    """
    scan = FileScan(file=path, records=[])
    offset = good = 0
    try:
        with open(path, "rb") as fh:
            good = whole_members_end(fh)
            size = fh.seek(0, 2)
            fh.seek(0)
            it = ArchiveIterator(fh)
            for record in it:
                offset = it.get_record_offset()
                if offset >= good:
                    break
                scan.records.append(_head(path, offset, record))
    except Exception as exc:  # warcio raises zlib, EOF, parse and value errors alike
        at = max(offset, good)
        scan.problem = FileProblem(
            path, at, f"unreadable at offset {at}: {_describe(exc)}; rest skipped"
        )
        return scan
    if good < size:
        scan.problem = FileProblem(
            path,
            good,
            f"damaged or cut short at offset {good} ({size - good} bytes); rest skipped",
        )
    elif path.name.endswith(OPEN_SUFFIX):
        scan.problem = FileProblem(
            path,
            good,
            "unfinished (.open): its writer crashed or is still writing; whole records read",
        )
    return scan


def iter_scans(files: Iterator[Path]) -> Iterator[FileScan]:
    for path in files:
        yield scan_file(path)


def read_payload(path: Path, offset: int) -> bytes:
    """The payload of the response record at ``offset``, digest-checked, content-decoded."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            # warcio does not check the gzip CRC of a record it reads from the middle of a
            # file; a damaged header would go unnoticed where the payload digest cannot see.
            if not whole_member_at(fh):
                raise RawReadError(f"{path}@{offset}: damaged or cut short", "corrupt_record")
            fh.seek(offset)
            record = next(iter(ArchiveIterator(fh)))
            if record.rec_type != "response":
                raise RawReadError(
                    f"{path}@{offset}: a {record.rec_type} record, not a response", "not_response"
                )
            raw = record.raw_stream.read()
            expected = record.rec_headers.get_header("WARC-Payload-Digest")
            headers = record.http_headers
            encoding = headers.get_header("Content-Encoding") if headers is not None else None
    except RawReadError:
        raise
    except (OSError, StopIteration) as exc:
        raise RawReadError(f"{path}@{offset}: {_describe(exc)}", "payload_missing") from None
    except Exception as exc:
        raise RawReadError(f"{path}@{offset}: {_describe(exc)}", "corrupt_record") from None
    if expected and payload_digest(raw) != expected:
        raise RawReadError(f"{path}@{offset}: payload digest mismatch", "digest_mismatch")
    return decode_content(raw, encoding)


def whole_member_at(fh: Any) -> bool:
    """True when one gzip member starting at the file position decompresses completely."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while not d.eof:
        chunk = fh.read(1 << 16)
        if not chunk:
            return False
        try:
            d.decompress(chunk)
        except zlib.error:
            return False
    return True


def charset_of(content_type: str | None) -> str | None:
    """The charset a Content-Type header declares, as the spider passes it to the extractor."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip().strip("\"'") or None
    return None


def decode_content(body: bytes, content_encoding: str | None) -> bytes:
    """Undo ``Content-Encoding`` as Scrapy's HttpCompressionMiddleware would (last applied first).

    gzip and deflate come with Python; br and zstd only when their modules are installed,
    which is also when Scrapy could have asked for them (it advertises only what it can decode).
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        try:
            if coding in ("gzip", "x-gzip"):
                body = _inflate(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                try:
                    body = _inflate(body, zlib.MAX_WBITS)
                except zlib.error:  # raw deflate, as some servers send it
                    body = _inflate(body, -zlib.MAX_WBITS)
            elif coding == "br":
                body = _optional_decoder("brotli", coding)(body)
            elif coding == "zstd":
                body = _zstd(body)
            else:
                raise RawReadError(f"unknown Content-Encoding {coding!r}", "content_encoding")
        except (zlib.error, ValueError, OSError) as exc:
            raise RawReadError(
                f"{coding} body does not decode: {_describe(exc)}", "content_encoding"
            ) from None
        if len(body) > MAX_DECODED_BYTES:
            raise RawReadError(
                f"decoded body exceeds {MAX_DECODED_BYTES} bytes", "content_encoding"
            )
    return body


def _inflate(data: bytes, wbits: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, MAX_DECODED_BYTES + 1)
    return out


def _optional_decoder(module: str, coding: str) -> Any:
    try:
        mod = __import__(module)
    except ImportError:
        raise RawReadError(
            f"Content-Encoding {coding} needs the {module} module", "content_encoding"
        ) from None
    return mod.decompress


def _zstd(body: bytes) -> bytes:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        raise RawReadError(
            "Content-Encoding zstd needs the zstandard module", "content_encoding"
        ) from None
    reader = zstandard.ZstdDecompressor().stream_reader(body)
    out: bytes = reader.read(MAX_DECODED_BYTES + 1)
    return out


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    # Messages can quote bytes of the damaged file: keep them short and printable.
    text = "".join(c if c.isprintable() else "?" for c in lines[0])[:160] if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
