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


# --- damaged pages: decoded like a browser, with replacement, not dropped or guessed -----------

ARTICLE = [
    "本报讯 近日，市文化和旅游局公布了第三批市级非物质文化遗产代表性项目名录，共有四十二个项目入选。",
    "入选项目涵盖传统技艺、传统美术、民间文学、传统医药等类别，其中传统技艺类项目数量最多。",
    "市文化和旅游局有关负责人表示，将进一步加强非遗保护传承，推动非遗融入现代生活，让更多市民了解非遗。",
    "据了解，我市目前已有国家级非遗项目五项、省级非遗项目三十一项，非遗保护工作走在全省前列。",
]


def damaged_page(charset: str | None, breaks: int) -> bytes:
    """A GB page whose body has `breaks` bytes pairs that are not GB18030 (``\\x81\\x20``: a lead
    byte followed by a space, the way a CMS cuts a character in half)."""
    meta = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        if charset
        else ""
    )
    head = (
        f"<html><head>{meta}<title>非遗名录公布_某某日报</title></head><body><h1>非遗名录公布</h1>"
    )
    raw = head.encode("gb18030") + b"<div class='content'>"
    for i, text in enumerate(ARTICLE * 10):
        raw += b"<p>" + text.encode("gb18030")
        if i < breaks:
            raw += b"\x81\x20"
        raw += b"</p>"
    return raw + b"</div></body></html>"


def test_gb2312_page_with_a_dozen_broken_byte_pairs_is_decoded_with_replacement() -> None:
    from crawler.extract.decode import decode

    raw = damaged_page("gb2312", breaks=12)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb18030")
    text, codec, replaced = decode(raw)
    assert codec == "gb18030" and replaced == 12
    assert ARTICLE[2] in text
    article = extract(raw, "https://news.example.cn/2021/05/01/1.html")
    assert ARTICLE[0][4:] in article.body and ARTICLE[3] in article.body


def test_page_without_charset_and_two_bad_bytes_is_not_guessed_into_another_script() -> None:
    from crawler.extract.decode import decode

    raw = damaged_page(None, breaks=2)
    text, codec, replaced = decode(raw)
    assert (codec, replaced) == ("gb18030", 2)
    assert ARTICLE[1] in text
    # No Cyrillic (ISO-8859-5 was charset_normalizer's guess for such a page).
    assert not any("\u0400" <= ch <= "\u04ff" for ch in text)


def test_utf8_page_with_a_broken_character_stays_utf8() -> None:
    from crawler.extract.decode import decode

    good = damaged_page(None, breaks=0).decode("gb18030").replace("gb18030", "utf-8")
    raw = good.encode("utf-8")
    # One character cut in half in the middle of the text.
    cut = raw.index(ARTICLE[1].encode("utf-8")) + 4
    raw = raw[:cut] + raw[cut + 1 :]
    text, codec, replaced = decode(raw)
    assert codec == "utf-8" and 1 <= replaced <= 2
    assert ARTICLE[2] in text


def test_a_wrong_charset_is_not_taken_with_replacement() -> None:
    from crawler.extract.decode import decode

    # A UTF-8 page declared GB2312 but with one stray byte: read as GB18030 it would replace a
    # large share of its text, so UTF-8 with one replacement wins.
    raw = damaged_page("gb2312", breaks=0).decode("gb18030").encode("utf-8") + b"\xff"
    text, codec, _replaced = decode(raw)
    assert codec == "utf-8" and ARTICLE[0] in text
