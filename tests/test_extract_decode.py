"""Decoding: declarations are hints checked strictly, GB2312 means gb18030, binary is refused."""

from __future__ import annotations

import os

import pytest

from crawler.extract import ExtractOptions, NotAnArticle, UndecodableError, decode_html, extract

TEXT = "法制晨报记者王喆、李堃报道：镕基大道改造工程今日完工，市民出行更加便利。"


def page(charset: str | None, text: str = TEXT, title: str = "测试") -> str:
    meta = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        if charset
        else ""
    )
    return f"<html><head>{meta}<title>{title}</title></head><body><p>{text}</p></body></html>"


def test_gb2312_declared_page_with_gbk_characters() -> None:
    raw = page("gb2312").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")
    text, codec = decode_html(raw)
    assert codec == "gb18030"
    assert TEXT in text


@pytest.mark.parametrize("declared", ["gbk", "GB2312", "x-gbk", "gb18030"])
def test_gb_family_declarations(declared: str) -> None:
    text, codec = decode_html(page(declared).encode("gb18030"))
    assert codec == "gb18030" and TEXT in text


def test_utf8_bytes_declared_gb2312() -> None:
    text, codec = decode_html(page("gb2312").encode("utf-8"))
    assert codec == "utf-8" and TEXT in text


def test_gb_bytes_declared_utf8() -> None:
    text, _codec = decode_html(page("utf-8").encode("gb18030"))
    assert TEXT in text


def test_gb_bytes_with_wrong_http_header() -> None:
    text, _codec = decode_html(page(None).encode("gb18030"), http_encoding="iso-8859-1")
    assert TEXT in text


def test_no_declaration() -> None:
    text, _codec = decode_html(page(None).encode("gb18030"))
    assert TEXT in text
    text, codec = decode_html(page(None).encode("utf-8"))
    assert codec == "utf-8" and TEXT in text


def test_http_encoding_used_when_meta_missing() -> None:
    raw = page(None, "Ceci est un été très chaud à Paris.", "Météo").encode("cp1252")
    text, _codec = decode_html(raw, http_encoding="windows-1252")
    assert "été très" in text


def test_big5_declared() -> None:
    raw = page("big5", "臺灣新聞報導今日天氣晴朗。", "新聞").encode("big5")
    text, codec = decode_html(raw)
    assert codec == "big5" and "臺灣新聞" in text


def test_bom_wins() -> None:
    raw = b"\xef\xbb\xbf" + page("gb2312").encode("utf-8")
    text, codec = decode_html(raw)
    assert codec == "utf-8" and TEXT in text


def test_forced_encoding() -> None:
    raw = page("utf-8").encode("gb18030")
    text, codec = decode_html(raw, forced="gbk")
    assert codec == "gb18030" and TEXT in text


def test_binary_is_undecodable() -> None:
    blob = bytes(range(256)) * 64 + os.urandom(4096)
    with pytest.raises(UndecodableError):
        decode_html(blob)
    with pytest.raises(UndecodableError):
        extract(b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02\x03" * 2000, "https://x.example/a.png")


def test_empty_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle):
        extract(b"   ", "https://x.example/")


def test_extract_through_options_encoding() -> None:
    body = "".join(f"<p>{TEXT}第{i}段。</p>" for i in range(5))
    raw = f"<html><head><meta charset='utf-8'></head><body><h1>标题</h1>{body}</body></html>"
    article = extract(raw.encode("gb18030"), "https://x.example/a", ExtractOptions(encoding="gbk"))
    assert TEXT in article.body
