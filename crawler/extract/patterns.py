"""Selectors, labels and regexes as data, each with the reason it exists.

Everything a news portal varies in (label wording, date formats, chrome lines) lives here so a
fix for a new portal is usually a new entry in a tuple, not new control flow. Regexes are
compiled once at import time.
"""

from __future__ import annotations

import re

# --- decoding -----------------------------------------------------------------------------------

#: How far into the bytes we look for ``<meta charset>``: the HTML spec says the declaration must
#: sit in the first 1024 bytes, but old Chinese CMS templates put long comments and scripts
#: before it, so we look further.
META_SNIFF_BYTES = 8192

#: ``<meta charset="x">`` and ``<meta http-equiv="Content-Type" content="text/html; charset=x">``.
META_CHARSET_RE = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)

#: Declared names that must decode as gb18030: GB2312-declared pages routinely contain GBK
#: characters (names such as 堃 and 喆, traditional forms), and gb18030 is a strict superset of
#: both, so decoding as declared would turn real text into replacement characters.
GB_FAMILY = frozenset(
    {"gb2312", "gbk", "gb18030", "x-gbk", "gb_2312-80", "csgb2312", "cp936", "936"}
)

#: Single-byte declarations decode anything without error, so they cannot be checked strictly;
#: a page declared latin-1 is far more often UTF-8 or GBK served with a server default header.
WEAK_DECLARATIONS = frozenset(
    {"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "cp1252", "windows-1252"}
)

#: Share of C0 control characters (other than tab/newline/CR/FF) above which decoded "text" is
#: really binary: real HTML has practically none, a JPEG or gzip body has several percent.
MAX_CONTROL_RATIO = 0.01

# --- DOM ----------------------------------------------------------------------------------------

#: Elements whose text is never page text a reader sees.
SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "svg",
        "canvas",
        "select",
        "option",
        "textarea",
        "button",
        "head",
        "title",
        "meta",
        "link",
        "object",
        "embed",
        "figcaption",
    }
)

#: Elements that start a new line in the rendered page (HTML plus trafilatura's output XML
#: vocabulary: head, item, quote, row, cell, list).
BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "aside",
        "header",
        "footer",
        "nav",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "blockquote",
        "pre",
        "form",
        "fieldset",
        "address",
        "figure",
        "center",
        "hr",
        "body",
        "html",
        "head",
        "item",
        "quote",
        "row",
        "cell",
        "list",
        "doc",
        "caption",
        "details",
        "summary",
        "legend",
    }
)
HEADING_TAGS = frozenset({"h2", "h3", "h4", "h5", "h6", "head"})
BOLD_TAGS = frozenset({"strong", "b", "hi"})

# --- metadata: meta tags and attributes ---------------------------------------------------------

#: Meta names/properties carrying the publication time, most specific first. Chinese portals
#: use their own names (``publishdate``, ``PubDate``) next to Open Graph's.
META_PUBLISHED = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "publishdate",
    "publish_date",
    "pubdate",
    "PubDate",
    "publishtime",
    "publish-date",
    "dc.date.issued",
    "DC.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "datePublished",
    "date",
    "article.published",
    "weibo:article:create_at",
)
META_MODIFIED = (
    "article:modified_time",
    "og:updated_time",
    "dateModified",
    "lastmod",
    "last-modified",
)
META_TITLE = ("og:title", "twitter:title", "ArticleTitle", "headline")
META_DESCRIPTION = ("og:description", "description", "twitter:description")
META_AUTHOR = ("article:author", "author", "byl", "dc.creator", "parsely-author", "sailthru.author")
META_SOURCE = ("source", "mediaid", "og:article:source", "article:source")
META_SITE_NAME = ("og:site_name", "application-name", "apple-mobile-web-app-title", "site_name")
META_SECTION = ("article:section", "og:article:section", "category", "section")
META_KEYWORDS = ("keywords", "news_keywords", "article:tag", "og:article:tag")
META_IMAGE = ("og:image", "twitter:image", "og:image:url")
META_LANGUAGE = ("content-language", "language", "og:locale", "dc.language")

#: Classes/ids of breadcrumb containers on portals that do not label them with 当前位置.
BREADCRUMB_XPATH = (
    "//*[contains(@class,'breadcrumb') or contains(@id,'breadcrumb') or contains(@class,'crumb')"
    " or contains(@class,'position') or contains(@class,'location') or @class='place']"
)

# --- metadata: labels in page text --------------------------------------------------------------

#: A colon in either width; Chinese portals mix ``:`` and ``：`` even within one page.
COLON = r"\s*[:：]\s*"

#: Text that ends a label's value: whitespace (portals separate fields with runs of &nbsp;),
#: another known label, or a closing bracket.
_VALUE_END = (
    r"(?=\s|$|[|｜\]】)）]|(?:来源|作者|编辑|责任编辑|日期|时间|发布时间|浏览|点击|阅读)[:：])"
)

SOURCE_RE = re.compile(
    r"(?:来源|稿源|来自|出处|Source)" + COLON + r"([^\s|｜]{1,40}?)" + _VALUE_END, re.I
)
EDITOR_RE = re.compile(
    r"(?:责任编辑|责编|编辑|值班编辑|Editor)" + COLON + r"([^\s|｜)）\]】]{0,20})", re.I
)
AUTHOR_LABEL_RE = re.compile(
    # The value may start with a role ("作者:本报记者 吴昊"): the role is not the name.
    r"(?:作者|撰文|文字|记者|By)" + COLON + r"(?:[\u4e00-\u9fff]{0,4}?(?:记者|通讯员)\s*)?"
    r"([^\s|｜)）\]】]{1,30}?)" + _VALUE_END,
    re.I,
)
LEAD_RE = re.compile(
    r"^\s*(?:导读|摘要|内容提要|核心提示|提要|导语|【导读】|【摘要】)\s*[:：]?\s*(.+)$"
)
BREADCRUMB_LABEL_RE = re.compile(
    r"(?:当前位置|您的位置|你的位置|您现在的位置|你现在的位置|所在位置|位置)" + COLON
)
#: Separators between breadcrumb items.
BREADCRUMB_SPLIT_RE = re.compile(r"\s*(?:>>|->|>|»|›|→|/|＞|\\)\s*")
#: Breadcrumb items that are never the category.
BREADCRUMB_SKIP = frozenset(
    {"首页", "主页", "网站首页", "正文", "内容", "详情", "文章", "home", "Home", "正文内容"}
)
#: Labels in front of the publication time in the page text.
DATE_LABEL_RE = re.compile(
    r"(?:发布时间|发布日期|发表时间|时间|日期|更新时间|Published|Posted|Date)" + COLON, re.I
)
UPDATED_LABEL_RE = re.compile(r"(?:更新时间|修改时间|Updated)" + COLON, re.I)

#: Byline forms at the start or end of the body. A name is 2-4 Han characters (with the
#: middle dot of transliterated names); several names are separated by spaces or 、.
_NAME = r"[\u4e00-\u9fff·]{2,5}"
_NAMES = _NAME + r"(?:[ 、,，]+" + _NAME + r")*"
BYLINE_LINE_RES = (
    # 本报记者 张三 / 记者 张三 李四 / 新华社记者 张三 (also with trailing 报道/摄)
    re.compile(
        r"^[□■◎●]?\s*(?:[\u4e00-\u9fff]{0,6}?)(?:记者|通讯员)\s*[:：]?\s*("
        + _NAMES
        + r")\s*(?:报道|摄|发自\S*)?$"
    ),
    # 文/李四, 文|李四, 文 / 李四, 撰文:李四
    re.compile(r"^[□■◎●]?\s*(?:文|撰文|文字|作者)\s*[/|｜:：]\s*(" + _NAMES + r")$"),
    # By Jane Doe
    re.compile(r"^By\s+([A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3})$"),
)
#: A trailing byline in parentheses at the very end of the last paragraph: ``…局面。(王法)``.
TRAILING_BYLINE_RE = re.compile(
    r"[(（]\s*(?:[\u4e00-\u9fff]{0,6}?(?:记者|通讯员)\s*)?(" + _NAMES + r")\s*[)）]\s*$"
)
#: Declared authors (meta/JSON-LD) that name an organisation: portals fill the field with the
#: site or a desk name, and the record wants the writer or nothing.
NOT_PERSON_RE = re.compile(
    r"(?:网|报|社|台|新闻|财经|频道|中心|编辑部|日报|晚报|客户端|官方|公司|集团|Inc\.?|News|Media)$",
    re.I,
)

#: Parenthesised endings that are not names.
NOT_NAMES = frozenset(
    {
        "完",
        "图",
        "资料图",
        "试行",
        "下同",
        "待续",
        "未完待续",
        "全文完",
        "注",
        "续",
        "记者",
        "编辑",
        "本报讯",
        "摄",
    }
)

# --- dates --------------------------------------------------------------------------------------

#: Numeric dates with optional time: 2020-10-03 21:26:54, 2020/10/03, 2020.10.03 21:26, ISO.
NUMERIC_DATE_RE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?!\d)"
    r"(?:(?:T|\s+|&nbsp;)*(\d{1,2})[:：](\d{2})(?:[:：](\d{2})(?:\.\d+)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
#: Chinese dates: 2020年10月3日 21:26, 2020年10月03日21时26分.
CJK_DATE_RE = re.compile(
    r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
    r"(?:\s*(?:星期.|周.)?\s*(上午|下午|晚上|凌晨)?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?"
    r"(?:\s*[:：]?\s*(\d{1,2})\s*秒?)?)?"
)
MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_MONTH = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_TIME12 = r"(?:,?\s*(?:at\s+)?(\d{1,2})[:.](\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?)?"
#: October 3, 2020 [9:26 PM]
EN_MDY_RE = re.compile(
    _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{2})" + _TIME12, re.I
)
#: 3 October 2020 [21:26]
EN_DMY_RE = re.compile(
    r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+((?:19|20)\d{2})" + _TIME12, re.I
)
#: ``Sat, 03 Oct 2020 13:26:54 GMT`` (HTTP headers, RSS, some meta tags).
RFC2822_RE = re.compile(r"^\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s+\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}")
#: Words around a date on English info lines (``Published October 3, 2020``).
EN_DATE_WORDS_RE = re.compile(
    r"\b(?:Published|Updated|Posted|Last updated|on|at|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day)\b|\b[A-Z]{2,4}T?\b$",
    re.I,
)
#: How many page lines after the headline we search for an unlabelled date: the info line sits
#: right under the title; further down, dates belong to body text or the sidebar.
DATE_LINES_AFTER_TITLE = 8

# --- body cleanup -------------------------------------------------------------------------------

#: Whole lines that are portal chrome, not article. Each is matched with ``search`` on a
#: stripped line; anchors and length guards keep them off real paragraphs.
CHROME_LINE_RES = (
    re.compile(r"当前位置|您的位置|你的位置|您现在的位置"),  # breadcrumb
    re.compile(
        r"^[(（\[【]?\s*(?:责任编辑|责编|编辑|值班编辑)" + COLON + r".{0,20}?[)）\]】]?$"
    ),  # editor
    re.compile(r"^(?:返回首页|网站首页|首页)\s*[|｜]"),  # footer nav
    re.compile(r"^(?:版权所有|Copyright|©|\(c\)|本网站?版权)", re.I),
    re.compile(r"ICP\s*[备证]|ICP\s*\d|公网安备|公安网络备案|公安备案|网安备"),
    re.compile(r"^(?:客服电话|联系电话|举报电话|违法和不良信息举报|广告热线|新闻热线)"),
    re.compile(r"^(?:免责声明|版权声明|特别声明)"),
    re.compile(r"^(?:回到顶部|返回顶部|顶部|TOP)$", re.I),
    re.compile(r"^(?:分享到|分享至|扫一扫|扫描二维码|微信扫一扫|手机扫一扫|用微信扫)"),
    re.compile(r"^(?:上一篇|下一篇|上一条|下一条)"),
    re.compile(
        r"^(?:相关阅读|相关新闻|相关文章|相关链接|延伸阅读|推荐阅读|热点新闻|热门推荐)\s*[:：]?$"
    ),
    re.compile(
        r"^[【\[]?\s*(?:打印|打印本页|关闭|关闭窗口|收藏|纠错|字号|大|中|小)\s*[】\]]?(?:\s*[【\[]?\s*(?:打印|打印本页|关闭|关闭窗口|收藏|纠错|字号|大|中|小|默认)\s*[】\]]?)*$"
    ),
    re.compile(r"^字号" + COLON + r"?(?:\s*[大中小默认]){1,4}$"),
    re.compile(r"^[(（【\[]?\s*(?:原标题|图片来源|图源|题图来源)\s*[:：]"),
    re.compile(r"^(?:举报邮箱|举报电话|All Rights Reserved)", re.I),
    re.compile(r"All Rights Reserved\.?$", re.I),
    # Image captions and photo credits: a short line ending in a credit in brackets, or
    # starting with the ▲ pointer portals put under pictures.
    re.compile(
        r"^.{0,80}[(（][^()（）]{0,20}(?:截图|供图|摄|图片来源|视觉中国|图源|资料图|东方IC|图虫)[^()（）]{0,20}[)）]$"
    ),
    re.compile(r"^[▲△↑]"),
    re.compile(r"^(?:本文来源|文章来源|稿件来源|信息来源)\s*[:：].{0,30}$"),
    re.compile(r"^(?:关注我们|点击进入|进入专题|更多精彩|点击查看|阅读全文|展开全文)"),
    # Ad slots small portals leave in the article column ("广告位招租 联系电话:…", "广告").
    re.compile(r"^(?:[\[【]?\s*广告\s*[\]】]?$|广告位|广告招商|广告合作|招商热线)"),
)

#: Lines that end the article: what follows them is comments, related news or the footer. They
#: only cut when they come after `STOP_MIN_SHARE` of the body, so a 相关链接 box the CMS put
#: before the first paragraph does not erase the article.
STOP_LINE_RES = (
    re.compile(
        r"^(?:相关阅读|相关新闻|相关文章|相关推荐|相关链接|延伸阅读|推荐阅读|热点新闻|热门推荐|精彩推荐|猜你喜欢|为你推荐|往期回顾|最热评论|最新评论|热门评论|热门跟贴)\s*[:：]?$"
    ),
    re.compile(r"^(?:网友评论仅供|更多猛料|声明[:：]|特别声明[:：])"),
    re.compile(r"^[(（\[【]?\s*(?:责任编辑|责编)\s*[:：]"),
)
STOP_MIN_SHARE = 0.5

#: Labels of an info line (来源/日期 …) under the headline; a short line holding one of them and
#: a date, or two of them, is metadata, not body.
INFO_LABEL_RE = re.compile(r"(?:来源|日期|时间|发布|作者|编辑|浏览|点击|阅读|字号)\s*[:：]")
#: Longest info line we treat as chrome: real ones are 20-70 characters.
MAX_INFO_LINE = 100
#: A footer navigation line is mostly short items separated by | (at least this many).
MIN_NAV_SEPARATORS = 3
#: Stray short Latin tokens (``cm`` from a font-size widget) are dropped on CJK pages only:
#: on an English page a one-word line can be real.
STRAY_LATIN_RE = re.compile(r"^[A-Za-z]{1,4}$")

# --- site name ----------------------------------------------------------------------------------

#: Separators between headline and site name in ``<title>``.
TITLE_SEPARATORS_RE = re.compile(r"\s*(?:_|\||｜|--|—|–| - |-)\s*")
#: Decorations around a site name that are not part of it.
SITE_NAME_SUFFIX_RE = re.compile(r"(?:官方网站|官网|首页)$")
COPYRIGHT_HOLDER_RE = re.compile(
    r"(?:版权所有|Copyright\s*©?|©)\s*[:：]?\s*(?:\d{4}(?:-\d{4})?\s*)?([^\s,，|｜、.。;；]{2,30})",
    re.I,
)

#: A date without a year, with a time: ``10-08 12:00``, ``10月8日 12:00``. Feeds, app-style pages
#: (Baijiahao, Toutiao) print only month and day; the time is required so that scores and
#: ratios (``3-1``) are not read as dates.
YEARLESS_DATE_RE = re.compile(
    r"(?<![\d.:/-])(\d{1,2})(?:-|/|月)(\d{1,2})日?\s*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?(?![\d:])"
)
#: The year in an article URL: ``/2019/1008/``, ``/2019-10/08/``, ``/20191008/``, and 163.com's
#: two-digit ``/19/0907/``.
URL_YEAR_RES = (
    re.compile(r"(?<!\d)((?:19|20)\d{2})(?:[-/_]?\d{2}){1,2}(?!\d)"),
    re.compile(r"/(\d{2})/(?:0[1-9]|1[0-2])[0-3]\d/"),
)
