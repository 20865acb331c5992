"""Site configs: valid files load; every kind of mistake names the file, the key and the expectation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crawler.config import NUMERIC_KEYS, ConfigError, load_site_file, parse_site, resolve_site

MINIMAL = {
    "name": "example",
    "start_urls": ["https://news.example.com/"],
    "urls": {"article": [r"/content_\d+\.html$"]},
}


def test_minimal_config_gets_sane_defaults() -> None:
    site = parse_site(MINIMAL, "sites/example.toml")
    assert site.name == "example"
    assert site.allowed_domains == ("news.example.com",)
    assert site.timezone == "Asia/Shanghai"
    assert site.politeness.obey_robots is True
    assert site.politeness.download_delay == 0.5
    assert site.allow_private is False
    assert site.encoding is None


def test_full_config_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "fazhi.toml"
    path.write_text(
        """
name = "fazhi"
site_name = "法制晨报"
start_urls = ["http://www.fzcb.example/"]
allowed_domains = ["www.fzcb.example"]
timezone = "Asia/Shanghai"
encoding = "gb18030"
max_pages = 500
max_depth = 4

[urls]
article = ['/\\d{4}-\\d{2}/\\d{2}/content_\\d+\\.html$']
list = ['/[a-z]+/index\\.html$']
pagination = ['/index_\\d+\\.html$']
deny = ['/admin/']

[selectors]
title = "h1.title"
body = "//div[@class='content']"

[politeness]
download_delay = 1.5
concurrency = 2
obey_robots = true
""",
        encoding="utf-8",
    )
    site = load_site_file(path)
    assert site.site_name == "法制晨报"
    assert site.encoding == "gb18030"
    assert site.selectors == {"title": "h1.title", "body": "//div[@class='content']"}
    assert site.politeness.concurrency == 2
    assert site.max_pages == 500
    patterns = site.compiled()
    assert patterns.article[0].search("http://www.fzcb.example/jzfp/2020-10/03/content_1.html")
    assert patterns.deny[0].search("http://www.fzcb.example/admin/x")


@pytest.mark.parametrize(
    "domain",
    ["vm", "newsserver", "localhost", "example.com", "news.example.com.cn", "gov.cn.example"],
)
def test_host_names_that_are_no_public_suffix_are_allowed(domain: str) -> None:
    """A single-label intranet host (a machine called ``vm``) is a site's own host, not a
    top-level domain: only names on the Public Suffix List are refused."""
    site = parse_site({**MINIMAL, "allowed_domains": [domain]}, "sites/ok.toml")
    assert site.allowed_domains == (domain,)


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        ({"name": None}, "name", "missing"),
        ({"name": "Bad Name"}, "name", "lowercase"),
        ({"start_urls": []}, "start_urls", "empty list"),
        ({"start_urls": ["ftp://x/"]}, "start_urls[0]", "absolute http(s) URL"),
        ({"start_urls": "not a url"}, "start_urls[0]", "absolute http(s) URL"),
        ({"allowed_domains": ["http://x.com/"]}, "allowed_domains[0]", "bare domain"),
        # Issue 15, item 9: domains that would let the crawl roam the web, or match nothing.
        ({"allowed_domains": ["*"]}, "allowed_domains[0]", "without wildcards"),
        ({"allowed_domains": ["*.example.com"]}, "allowed_domains[0]", "without wildcards"),
        ({"allowed_domains": ["com"]}, "allowed_domains[0]", "public suffix"),
        ({"allowed_domains": ["com.cn"]}, "allowed_domains[0]", "public suffix"),
        ({"allowed_domains": ["CO.UK"]}, "allowed_domains[0]", "public suffix"),
        ({"allowed_domains": ["cn"]}, "allowed_domains[0]", "public suffix"),
        ({"allowed_domains": ["github.io"]}, "allowed_domains[0]", "public suffix"),
        ({"allowed_domains": [""]}, "allowed_domains[0]", "domain name"),
        ({"allowed_domains": ["\t"]}, "allowed_domains[0]", "domain name"),
        ({"allowed_domains": [".example.com"]}, "allowed_domains[0]", "separated by dots"),
        ({"allowed_domains": ["example..com"]}, "allowed_domains[0]", "separated by dots"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
        ({"encoding": "klingon"}, "encoding", "encoding Python knows"),
        ({"max_pages": 0}, "max_pages", "an integer from 1 to 10,000,000"),
        ({"max_pages": "ten"}, "max_pages", "an integer from 1"),
        ({"urls": {}}, "urls.article", "missing"),
        ({"urls": {"article": ["(unclosed"]}}, "urls.article[0]", "valid regular expression"),
        ({"urls": {"article": ["x"], "lists": ["y"]}}, "urls.lists", "unknown key"),
        ({"selectors": {"titel": "h1"}}, "selectors.titel", "unknown key"),
        ({"selectors": {"title": " "}}, "selectors.title", "empty string"),
        # parsel's ::text is not CSS lxml can run: refused when the config loads, not per page.
        ({"selectors": {"body": "div.article p::text"}}, "selectors.body", "usable selector"),
        ({"selectors": {"title": "//h1["}}, "selectors.title", "usable selector"),
        # Compiled by lxml, but they fail on every page (issue 15, item 9): refused at load.
        ({"selectors": {"body": "//p[php:function('system','id')]"}}, "selectors.body", "'php:'"),
        ({"selectors": {"body": "//div[@id=$x]"}}, "selectors.body", "variables"),
        ({"selectors": {"title": "//h1[lower-case(.)='a']"}}, "selectors.title", "core library"),
        ({"selectors": {"title": "//h1[count()]"}}, "selectors.title", "takes 1 argument"),
        ({"selectors": {"title": "svg|title"}}, "selectors.title", "namespace prefix"),
        ({"name": "demo\n"}, "name", "lowercase letters"),  # a name ending in a newline
        ({"politeness": {"concurrency": 0}}, "politeness.concurrency", "from 1 to 64"),
        ({"politeness": {"concurrency": True}}, "politeness.concurrency", "integer"),
        ({"politeness": {"download_delay": -1}}, "politeness.download_delay", "from 0 to 3,600"),
        ({"politeness": {"obey_robots": "yes"}}, "politeness.obey_robots", "true or false"),
        ({"startUrls": ["https://x/"]}, "startUrls", "unknown key"),
    ],
)
def test_bad_values_name_file_key_and_expectation(
    change: dict[str, object], key: str, fragment: str
) -> None:
    data = {**MINIMAL, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        parse_site(data, "sites/bad.toml")
    err = info.value
    assert err.file == "sites/bad.toml"
    assert err.key == key
    assert fragment in err.expected
    message = str(err)
    assert message.startswith(f"sites/bad.toml: {key}: ")
    assert "\n" not in message


def test_toml_syntax_error_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\nstart_urls = [\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_site_file(path)
    assert str(path) in str(info.value)
    assert "valid TOML" in str(info.value)


def test_resolve_by_name_and_unknown_name(tmp_path: Path) -> None:
    (tmp_path / "example.toml").write_text(
        'name = "example"\nstart_urls = ["https://e.example/"]\n[urls]\narticle = ["/a/"]\n',
        encoding="utf-8",
    )
    assert resolve_site("example", [tmp_path]).name == "example"
    with pytest.raises(ConfigError) as info:
        resolve_site("nosuchsite", [tmp_path])
    assert "no such site config" in str(info.value)


def test_bundled_site_configs_are_valid() -> None:
    repo = Path(__file__).resolve().parent.parent
    configs = sorted((repo / "sites").glob("*.toml")) + sorted(
        (repo / "crawler" / "demo").glob("*.toml")
    )
    assert configs, "the repository ships at least one site config"
    for path in configs:
        assert load_site_file(path).name


def test_every_error_of_a_file_is_reported_at_once() -> None:
    """A user fixes a config in one pass, not one run per mistake (issue 14, item 15)."""
    data = {
        "name": "Bad Name",
        "start_urls": ["ftp://x/", "https://ok.example/"],
        "timezone": "Mars/Olympus",
        "max_depth": 0,
        "startUrls": ["https://x/"],
        "urls": {"article": ["(unclosed"], "lists": ["y"]},
        "selectors": {"title": "//h1[", "titel": "h1"},
        "politeness": {"concurrency": 0, "obey_robots": "yes"},
        "schedule": "every day",
        "incremental": {"recheck_days": -1},
    }
    with pytest.raises(ConfigError) as info:
        parse_site(data, "sites/bad.toml")
    err = info.value
    keys = [key for key, _ in err.problems]
    assert sorted(keys) == sorted(
        [
            "name",
            "start_urls[0]",
            "timezone",
            "max_depth",
            "startUrls",
            "urls.article[0]",
            "urls.lists",
            "selectors.title",
            "selectors.titel",
            "politeness.concurrency",
            "politeness.obey_robots",
            "schedule",
            "incremental.recheck_days",
        ]
    )
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"sites/bad.toml: {keys[0]}: ")
    # One problem per `; `-separated part, each naming its key once.
    parts = message.removeprefix("sites/bad.toml: ").split("; ")
    assert [part.split(": ", 1)[0] for part in parts] == keys
    assert (err.key, err.expected) == err.problems[0]


def test_missing_required_keys_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        parse_site({"site_name": "x"}, "sites/empty.toml")
    assert [key for key, _ in info.value.problems] == ["name", "start_urls", "urls.article"]
    assert all("missing" in expected for _, expected in info.value.problems)


def test_a_table_of_the_wrong_type_is_one_problem() -> None:
    with pytest.raises(ConfigError) as info:
        parse_site({**MINIMAL, "urls": "x", "politeness": 3}, "sites/bad.toml")
    assert [key for key, _ in info.value.problems] == ["urls", "politeness"]


@pytest.mark.parametrize(
    "text",
    [
        "start_urls = " + "[" * 5000 + "]" * 5000,  # too deep for the TOML parser itself
        "name = " + "{a = " * 400 + "1" + "}" * 400,  # parsed, but no config nests so deep
        ".".join(["politeness"] + ["a"] * 5000) + " = 1",  # dotted keys nest without recursion
    ],
)
def test_deeply_nested_toml_is_one_config_error(tmp_path: Path, text: str) -> None:
    """Issue 15, item 8: a 5,000-level nested file was a RecursionError traceback."""
    path = tmp_path / "deep.toml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_site_file(path)
    assert info.value.key == "(syntax)"
    assert "nested" in info.value.expected
    assert "\n" not in str(info.value)


def _with_value(dotted: str, value: object) -> dict[str, object]:
    """MINIMAL with ``dotted`` (``politeness.download_delay``) set to ``value``."""
    data: dict[str, object] = dict(MINIMAL)
    table, _, key = dotted.rpartition(".")
    if table:
        data[table] = {**dict(data.get(table, {})), key: value}  # type: ignore[call-overload]
    else:
        data[key] = value
    return data


def test_every_numeric_key_has_a_documented_range() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert set(NUMERIC_KEYS) == {
        "max_pages",
        "max_depth",
        "politeness.download_delay",
        "politeness.concurrency",
        "incremental.recheck_days",
    }
    for key, bound in NUMERIC_KEYS.items():
        # The README's config table gives each range as the error message words it.
        assert f"| `{key}` | {bound.describe()} |" in readme, key


@pytest.mark.parametrize("key", sorted(NUMERIC_KEYS))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "low", "high", "true", "text"])
def test_numbers_past_their_range_are_refused_at_load(key: str, value: str) -> None:
    """Issue 15, item 7: ``download_delay = inf`` passed and the crawl hung holding its lock;
    ``recheck_days = inf`` or ``1e300`` ended in an OverflowError; ``nan`` passed."""
    bound = NUMERIC_KEYS[key]
    given: object = {
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "1e300": 1e300,
        "low": int(bound.low) - 1,
        "high": int(bound.high) + 1,
        "true": True,
        "text": "1",
    }[value]
    with pytest.raises(ConfigError) as info:
        parse_site(_with_value(key, given), "sites/bad.toml")
    assert info.value.key == key
    assert info.value.expected == f"expected {bound.describe()}, got {given!r}"


@pytest.mark.parametrize("key", sorted(NUMERIC_KEYS))
def test_both_ends_of_a_range_are_accepted(key: str) -> None:
    bound = NUMERIC_KEYS[key]
    for value in (bound.low, bound.high):
        number = int(value) if bound.integer else float(value)
        parse_site(_with_value(key, number), "sites/ok.toml")


@pytest.mark.parametrize(
    "domain", ["example.com", "news.sina.com.cn", "127.0.0.1", "localhost", "例子.中国", "a-b.cn"]
)
def test_site_domains_are_accepted(domain: str) -> None:
    assert parse_site({**MINIMAL, "allowed_domains": [domain]}).allowed_domains == (domain,)


def test_sitemaps_feeds_and_discover() -> None:
    site = parse_site(MINIMAL, "x.toml")
    assert (site.sitemaps, site.feeds, site.discover) == ((), (), True)
    site = parse_site(
        {
            **MINIMAL,
            "sitemaps": ["https://news.example.com/sitemap_news.xml"],
            "feeds": ["https://news.example.com/rss.xml"],
            "discover": False,
        },
        "x.toml",
    )
    assert site.sitemaps == ("https://news.example.com/sitemap_news.xml",)
    assert site.feeds == ("https://news.example.com/rss.xml",)
    assert site.discover is False


def test_bad_sitemaps_feeds_and_discover_are_each_named() -> None:
    bad = {
        **MINIMAL,
        "sitemaps": ["/sitemap.xml", "https://other.org/sitemap.xml"],
        "feeds": [3],
        "discover": "yes",
    }
    with pytest.raises(ConfigError) as err:
        parse_site(bad, "x.toml")
    keys = [key for key, _ in err.value.problems]
    assert keys == ["sitemaps[0]", "feeds[0]", "sitemaps[1]", "discover"]
    message = str(err.value)
    assert "sitemaps[0]: expected an absolute http(s) URL, got '/sitemap.xml'" in message
    assert "sitemaps[1]: https://other.org/sitemap.xml is outside allowed_domains" in message
    assert "discover: expected true or false, got str 'yes'" in message
