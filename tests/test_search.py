"""Full-text search (storage.search) on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, insert, select, text

from storage import search
from storage.article import Article
from storage.db import Database
from storage.models import Base
from storage.search import SearchQueryError, matching, snippet, tokens
from tests.conftest import SHARED

SEED = (SHARED / "seeds" / "fazhi-chenbao-article.txt").read_text(encoding="utf-8")
SEED_TITLE = "驻蹲开放前沿,引进优强企业"
ARTICLES = Base.metadata.tables["articles"]
_T0 = datetime(2024, 5, 1, tzinfo=UTC)

# Texts that match none of the queries below, so every term is rare in the corpus (bm25's IDF
# turns negative, and is clamped, for a term in more than half of the rows).
FILLER = [
    "今年秋粮收购工作有序推进，各地粮库运转正常。",
    "气象台发布寒潮蓝色预警，请市民注意防寒保暖。",
    "The city council approved the new budget on Monday.",
    "地铁新线开通运营，沿线居民出行更加便利。",
    "Researchers published a study on river water quality.",
    "图书馆延长开放时间，方便读者冬季借阅。",
]


def art(n: int | str, body: str, title: str | None = None) -> Article:
    return Article(url=f"https://news.example.cn/s/{n}.html", site="demo", title=title, body=body)


def urls(db: Database, q: str) -> list[str]:
    """URLs matching q, best first (ties by URL): what a caller of `matching` does."""
    m = matching(q, db.dialect).subquery()
    stmt = (
        select(ARTICLES.c.url)
        .join(m, m.c.url_hash == ARTICLES.c.url_hash)
        .order_by(m.c.rank, ARTICLES.c.url)
    )
    with db.engine.connect() as conn:
        return list(conn.scalars(stmt))


def url(n: int | str) -> str:
    return art(n, "x").url


@pytest.fixture
def corpus(db: Database) -> Database:
    db.upsert_articles([art(f"filler{i}", body) for i, body in enumerate(FILLER)])
    return db


# -- tokens and queries (pure) -------------------------------------------------------------


def test_cjk_runs_become_bigrams_and_a_trailing_unigram() -> None:
    assert tokens("驻点招商") == "驻点 点招 招商 商"
    assert tokens("A股，3月25日") == "a 股 3 月 25 日"
    assert tokens("日本語のテキスト 한국어") == "日本 本語 語の のテ テキ キス スト ト 한국 국어 어"


def test_index_tokens_and_snippet_tokens_agree() -> None:
    text = SEED + " ＡＢＣ１２３ A股 3月25日 日本語のテキスト " + "x" * 200
    norm = unicodedata.normalize("NFKC", text).casefold()
    assert tokens(text) == " ".join(p.token for p in search._pieces(norm))
    assert "x" * 200 not in tokens(text)  # over-long "words" are not indexed


def test_width_and_case_fold_before_tokenizing() -> None:
    assert tokens("ＡＢＣ１２３ Shenzhen") == tokens("abc123 SHENZHEN") == "abc123 shenzhen"


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"])
        | st.sampled_from("，：（）！？…\u00a0\u3000ＡＢｃ１２ﬁ①㎡Ⅳ\u0301\u0308é𝐀丽")
    )
)
def test_normalisation_is_nfkc_then_case_folding(text: str) -> None:
    # The fast path (each character NFKC changes replaced first) gives exactly the same text.
    assert search._normalize(text) == unicodedata.normalize("NFKC", text).casefold()


@pytest.mark.parametrize(
    "text",
    [
        "法律援助，见（附件）……",
        "Ａｐｐｌｅ\u00a0Café",
        "e\u0301\u0308 ﬁne 𝐀𝐁 丽",
        "Straße ＳＴＲＡＳＳＥ",
    ],
)
def test_normalisation_of_typical_and_composing_text(text: str) -> None:
    assert search._normalize(text) == unicodedata.normalize("NFKC", text).casefold()


@pytest.mark.parametrize("q", ["", "   ", "，。！？", '""', "*", "- _ /"])
def test_a_query_with_nothing_searchable_is_refused(q: str) -> None:
    for dialect in ("sqlite", "postgresql"):
        with pytest.raises(SearchQueryError, match="nothing to search for"):
            matching(q, dialect)
    with pytest.raises(SearchQueryError):
        snippet("驻点招商", q)


def test_query_terms_are_phrases_of_tokens() -> None:
    assert search.parse_query("驻点招商") == [(("驻点", False), ("点招", False), ("招商", False))]
    # A run's end followed by more of the phrase, and a lone CJK character, are prefixes.
    assert search.parse_query('"招商。工作" 商 shen*') == [
        (("招商", False), ("商", True), ("工作", False)),
        (("商", True),),
        (("shen", True),),
    ]


# -- the index on both databases -------------------------------------------------------------


def test_seed_article_is_found_by_a_chinese_phrase(corpus: Database) -> None:
    corpus.upsert_articles([art("seed", SEED, SEED_TITLE)])
    assert urls(corpus, "驻点招商") == [url("seed")]
    assert urls(corpus, "贵州 深圳 招商") == [url("seed")]
    assert urls(corpus, "北京招商") == []


def test_mixed_chinese_and_latin_query_needs_every_term(corpus: Database) -> None:
    corpus.upsert_articles(
        [
            art("both", "深圳扶贫协作项目在 Shenzhen 签约。"),
            art("zh", "贵州扶贫协作项目签约。"),
            art("en", "A project was signed in Shenzhen."),
        ]
    )
    assert urls(corpus, "扶贫 Shenzhen") == [url("both")]
    assert sorted(urls(corpus, "shenzhen")) == [url("both"), url("en")]


def test_a_cjk_run_is_a_phrase_and_separate_terms_match_anywhere(corpus: Database) -> None:
    corpus.upsert_articles(
        [
            art("phrase", "贵州驻点招商工作队抵达深圳。"),
            art("apart", "工作队驻点深圳，随后开始招商。"),
            art("reversed", "招商驻点。"),
        ]
    )
    assert urls(corpus, "驻点招商") == [url("phrase")]
    assert sorted(urls(corpus, "驻点 招商")) == [url("apart"), url("phrase"), url("reversed")]
    assert urls(corpus, '"驻点招商工作"') == [url("phrase")]
    assert urls(corpus, "招商驻点") == [url("reversed")]


def test_a_single_cjk_character_matches_wherever_it_stands(corpus: Database) -> None:
    corpus.upsert_articles(
        [
            art("end", "今年继续招商。"),  # 商 ends a run
            art("start", "商业街开业"),  # 商 starts a bigram
            art("alone", "A 商 B"),  # 商 is a run of its own
            art("none", "招标工作"),
        ]
    )
    assert sorted(urls(corpus, "商")) == [url("alone"), url("end"), url("start")]


def test_latin_words_match_whole_and_case_and_width_fold(corpus: Database) -> None:
    corpus.upsert_articles(
        [
            art("wide", "ＡＢＣ１２３ 报告 SHENZHEN"),
            art("city", "Shenzhen port"),
        ]
    )
    assert urls(corpus, "abc123") == [url("wide")]
    assert urls(corpus, "ＡＢＣ１２３") == [url("wide")]
    assert sorted(urls(corpus, "ｓｈｅｎｚｈｅｎ")) == [url("city"), url("wide")]
    assert urls(corpus, "shen") == []  # whole words only ...
    assert sorted(urls(corpus, "shen*")) == [url("city"), url("wide")]  # ... unless a prefix
    assert urls(corpus, '"shenzhen port"') == [url("city")]


def test_title_match_ranks_above_body_match_and_more_above_fewer(corpus: Database) -> None:
    corpus.upsert_articles(
        [
            art("body", "会议讨论了粮食安全和农业生产等问题。", title="今日要闻"),
            art("title", "会议讨论了水利建设和农业生产等问题。", title="粮食安全"),
        ]
    )
    assert urls(corpus, "粮食安全") == [url("title"), url("body")]
    corpus.upsert_articles(
        [
            art("once", "扶贫工作在推进，群众生活改善，产业发展提速。"),
            art("thrice", "扶贫工作在推进，扶贫产业发展，扶贫成效明显。"),
        ]
    )
    assert urls(corpus, "扶贫") == [url("thrice"), url("once")]


def test_the_index_follows_updates(corpus: Database) -> None:
    corpus.upsert_articles([art(1, "旧的正文讲的是驻点招商。", title="旧标题")])
    assert urls(corpus, "驻点招商") == [url(1)]
    corpus.upsert_articles([art(1, "新的正文讲的是乡村振兴。", title="新标题")])
    assert urls(corpus, "驻点招商") == []
    assert urls(corpus, "旧标题") == []
    assert urls(corpus, "乡村振兴") == [url(1)]
    assert urls(corpus, "新标题") == [url(1)]
    # Unchanged text (same content hash) keeps its entry; re-upserting adds none.
    corpus.upsert_articles([art(1, "新的正文讲的是乡村振兴。", title="新标题")])
    assert urls(corpus, "乡村振兴") == [url(1)]


def test_index_entries_commit_and_roll_back_with_the_callers_transaction(
    corpus: Database,
) -> None:
    corpus.upsert_articles([art(1, "乡村振兴")])
    with pytest.raises(RuntimeError), corpus.engine.begin() as conn:
        search.index_articles(conn, [(art(1, "x").url_hash, None, "驻点招商")])
        raise RuntimeError("the batch failed")
    assert urls(corpus, "驻点招商") == []
    assert urls(corpus, "乡村振兴") == [url(1)]


def test_deleting_an_article_deletes_its_entry(corpus: Database) -> None:
    corpus.upsert_articles([art(1, "驻点招商"), art(2, "驻点招商工作")])
    with corpus.engine.begin() as conn:
        conn.execute(ARTICLES.delete().where(ARTICLES.c.url == url(1)))
    assert urls(corpus, "驻点招商") == [url(2)]


def _old_archive(engine: Engine, n: int) -> None:
    """Rows as an older zhengwen wrote them: the tables, no search index."""
    Base.metadata.create_all(engine)
    rows = []
    for i in range(n):
        row = art(i, f"第{i}篇旧文章讲驻点招商。", title=f"旧文{i}").to_dict()
        row["first_seen"] = row["last_seen"] = _T0
        rows.append(row)
    with engine.begin() as conn:
        conn.execute(insert(ARTICLES), rows)


def test_an_archive_from_before_the_index_is_indexed_when_opened(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        _old_archive(engine, 7)
        assert search.ensure_index(engine, batch_size=3) == 7  # three batches
        assert search.ensure_index(engine) == 0  # idempotent
        with pytest.raises(ValueError, match="batch_size"):
            search.ensure_index(engine, batch_size=0)
    finally:
        engine.dispose()
    db = Database(db_url)
    try:
        db.create_schema()
        assert sorted(urls(db, "驻点招商")) == sorted(url(i) for i in range(7))
        assert urls(db, "旧文3") == [url(3)]
    finally:
        db.dispose()


def test_create_schema_indexes_an_old_archive_and_rows_written_around_the_index(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    try:
        _old_archive(engine, 4)
    finally:
        engine.dispose()
    db = Database(db_url)
    try:
        db.create_schema()
        assert len(urls(db, "驻点招商")) == 4
        # A row inserted by plain SQL (not through upsert_articles) is picked up next time.
        row = art("raw", "绕过索引写入的驻点招商").to_dict()
        row["first_seen"] = row["last_seen"] = _T0
        with db.engine.begin() as conn:
            conn.execute(insert(ARTICLES), [row])
        assert url("raw") not in urls(db, "驻点招商")
        assert search.ensure_index(db.engine) == 1
        assert url("raw") in urls(db, "驻点招商")
    finally:
        db.dispose()


def test_a_new_tokenizer_version_rebuilds_the_index(corpus: Database) -> None:
    corpus.upsert_articles([art(1, "驻点招商")])
    with corpus.engine.begin() as conn:
        conn.execute(text("UPDATE article_search_meta SET value = '0'"))
    assert search.ensure_index(corpus.engine) == len(FILLER) + 1
    assert urls(corpus, "驻点招商") == [url(1)]


# -- snippets ---------------------------------------------------------------------------------


def test_snippet_marks_the_term_and_respects_the_width() -> None:
    out = snippet(SEED, "驻点招商", width=60)
    assert "【驻点招商】" in out
    assert out.startswith("…") and out.endswith("…")
    plain = out.replace("【", "").replace("】", "").strip("…")
    assert len(plain) == 60
    assert plain in " ".join(SEED.split())
    # The first match is the one shown: 驻点招商 first appears in the lead's first sentence.
    assert "高度肯定深圳【驻点招商】工作" in out


def test_snippet_marks_every_term_and_maps_folded_text_back_to_the_original() -> None:
    text = "报道：Ｓｈｅｎｚｈｅｎ 的扶贫协作\n\n在深圳开展。"
    out = snippet(text, "shenzhen 扶贫", width=80, mark=("<b>", "</b>"))
    assert out == "报道：<b>Ｓｈｅｎｚｈｅｎ</b> 的<b>扶贫</b>协作 在深圳开展。"


def test_snippet_without_a_match_in_the_text_gives_its_beginning() -> None:
    assert snippet("甲乙丙丁戊己庚辛", "驻点", width=4) == "甲乙丙丁…"
    with pytest.raises(ValueError, match="width"):
        snippet("甲", "甲", width=0)


def test_snippet_highlights_a_single_character_not_its_bigram() -> None:
    assert snippet("商业与招商", "商", width=20) == "【商】业与招【商】"


def test_storage_search_imports_no_crawler() -> None:
    code = (
        "import storage.search, sys; print('scrapy' in sys.modules, 'trafilatura' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_snippet_matches_whole_words_and_finds_a_late_match() -> None:
    # "zhen" occurs inside "Shenzhen" first: not a match; the word "zhen" later is.
    assert snippet("Shenzhen 的 zhen 字", "zhen", width=40) == "Shenzhen 的 【zhen】 字"
    # A first occurrence as plain text that is not a match (驻点 ... 招商 apart), then a far
    # one that is: the window is where the phrase really is.
    text = "驻点工作" + "，其他内容" * 200 + "，驻点招商。"
    out = snippet(text, "驻点招商", width=20)
    assert out.endswith("【驻点招商】。") and out.startswith("…")
