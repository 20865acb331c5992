"""The body fingerprint: stable, near for small edits, far for different articles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from storage.article import Article
from storage.simhash import BANDS, THRESHOLD, bands, hamming, simhash, to_signed, tokens

REPO = Path(__file__).resolve().parent.parent

ZH = (
    "国家统计局今天发布数据，今年一季度国内生产总值同比增长百分之五点三，比上年四季度环比增长"
    "百分之一点六。分产业看，第一产业增加值同比增长百分之三点三，第二产业增长百分之六点零，"
    "第三产业增长百分之五点零。\n国家统计局新闻发言人表示，一季度国民经济起步平稳、开局良好，"
    "生产需求稳步增长，就业物价总体稳定，民生保障扎实有力，高质量发展取得新进展。\n"
    "但也要看到，外部环境复杂性严峻性不确定性上升，国内有效需求仍显不足，经济持续回升向好的"
    "基础还不稳固。下阶段，要加大宏观调控力度，巩固和增强经济回升向好态势。"
)
ZH_OTHER = (
    "记者从市气象台获悉，受冷空气影响，本周后期全市将出现一次明显降温降雨过程，最低气温将降至"
    "零下二摄氏度，部分地区有雨夹雪。\n气象部门提醒市民注意防寒保暖，出行注意交通安全，"
    "农业生产单位要做好设施农业的防冻工作，各区县要提前做好应急准备。\n据介绍，此次冷空气"
    "过程持续时间较长，预计下周初气温逐步回升，周中以晴到多云天气为主。"
)
EN = (
    "The central bank held interest rates steady on Wednesday, saying inflation had eased but "
    "remained above its target, and signalled that cuts could come later in the year if price "
    "pressures continued to fade.\nOfficials noted that the labour market was still tight, with "
    "unemployment near a record low and wages rising faster than before the pandemic.\n"
    "Markets had largely expected the decision, and bond yields moved little after the statement."
    "\nIn a press conference after the meeting, the governor said policymakers would look at a "
    "wide range of data before deciding when to lower borrowing costs, including services "
    "inflation, rents and the pace at which companies were passing on higher labour costs to "
    "their customers.\nSome economists argued that the bank was being too cautious, pointing to "
    "weak retail sales, a slowdown in construction and falling business confidence in recent "
    "surveys. Others said the risk of cutting too early outweighed the cost of waiting a few "
    "more months, given how long inflation had stayed above target.\nThe next decision is due "
    "in six weeks, when the bank will also publish updated forecasts for growth and prices."
)
EN_OTHER = (
    "A new species of frog has been discovered in the cloud forests of northern Peru, where "
    "researchers spent three months surveying streams at night with headlamps and recorders.\n"
    "The tiny amphibian, barely two centimetres long, has a distinctive call that helped the "
    "team tell it apart from its closest relatives.\nConservationists warn that its habitat is "
    "threatened by mining and agriculture and call for the area to be protected."
)


def test_tokens_are_han_characters_and_lowercase_words_without_punctuation() -> None:
    assert tokens("新华社北京5月1日电，Hello World! foo_bar") == [
        *"新华社北京",
        "5",
        "月",
        "1",
        "日",
        "电",
        "hello",
        "world",
        "foo",
        "bar",
    ]


def test_chinese_small_edits_stay_near_and_other_articles_are_far() -> None:
    base = simhash(ZH)
    edited = ZH.replace("百分之一点六", "百分之一点七")
    with_chrome = "来源：光明网\n" + ZH + "\n责任编辑：王法"
    respaced = ZH.replace("，", ", ").replace("\n", "\n\n  ")
    assert hamming(base, simhash(edited)) <= THRESHOLD
    assert hamming(base, simhash(with_chrome)) <= THRESHOLD
    assert hamming(base, simhash(respaced)) == 0
    assert hamming(base, simhash(ZH_OTHER)) > 4 * THRESHOLD


def test_english_small_edits_stay_near_and_other_articles_are_far() -> None:
    """One word of ~220 (a short text moves more: each word is 1/n of the votes)."""
    base = simhash(EN)
    assert hamming(base, simhash(EN.replace("Wednesday", "Thursday"))) <= THRESHOLD
    assert hamming(base, simhash(EN.upper())) == 0
    assert hamming(base, simhash(EN_OTHER)) > 4 * THRESHOLD


def test_empty_and_tiny_bodies() -> None:
    assert simhash("") == 0
    assert simhash(" ，。\n ") == 0
    assert simhash("甲") != 0
    assert simhash("甲") != simhash("乙")


def test_signed_64_bit_and_hamming_on_both_forms() -> None:
    value = simhash(ZH)
    assert -(2**63) <= value < 2**63
    assert to_signed(2**64 - 1) == -1
    assert hamming(-1, 0) == 64
    assert hamming(value, value & (2**64 - 1)) == 0


def test_bands_pigeonhole() -> None:
    value = simhash(EN)
    assert len(bands(value)) == BANDS
    assert all(0 <= b < 2**16 for b in bands(value))
    # Flip THRESHOLD bits spread over three bands: one band is still equal.
    flipped = to_signed((value & (2**64 - 1)) ^ (1 << 3) ^ (1 << 20) ^ (1 << 40))
    assert hamming(value, flipped) == THRESHOLD
    assert sum(a == b for a, b in zip(bands(value), bands(flipped), strict=True)) == 1


def test_stable_across_processes() -> None:
    """Fingerprints are stored: a new interpreter (another hash seed) must agree."""
    code = "from storage.simhash import simhash; import sys; print(simhash(sys.argv[1]))"
    out = subprocess.run(
        [sys.executable, "-c", code, ZH],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert int(out.stdout) == simhash(ZH)


def test_article_computes_simhash_and_replace_keeps_it_right() -> None:
    article = Article(url="http://x/1", site="s", title="t", body=ZH)
    assert article.simhash == simhash(ZH)
    assert article.replace(title="新标题").simhash == article.simhash
    assert article.replace(body=ZH_OTHER).simhash == simhash(ZH_OTHER)
    assert article.replace(body=ZH_OTHER, simhash=7).simhash == 7
    assert article.duplicate_of is None
