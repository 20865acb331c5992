"""Selectors, labels and regexes as data, each with the reason it exists.

Everything a news portal varies in (label wording, date formats, chrome lines) lives here so a
fix for a new portal is usually a new entry in a tuple, not new control flow. Regexes are
compiled once at import time.
"""

from __future__ import annotations

import itertools
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

#: A page that fails a strict decode by a few bytes (a CMS that cut a character in half, bytes
#: pasted from another charset) is still that charset: browsers show it with U+FFFD. Up to this
#: share of the decoded non-ASCII characters replaced counts as "a few": the damaged cwce-dev
#: pages lose 0.01-0.07 %, while a wrong charset replaces 5-50 % (a UTF-8 page read as GB18030,
#: a GB page read as UTF-8).
MAX_REPLACED_SHARE = 0.01
#: ... and a short page may lose this many, if they are at most a tenth of its non-ASCII text.
MIN_REPLACED_ALLOWED = 8

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
#: Images in the page (``img``) and in trafilatura's output (``graphic``).
IMAGE_TAGS = frozenset({"img", "graphic"})
#: Longest line under an image still taken for its caption: captions on the zh pages run 10-30
#: characters (``姚明场边支招周琦。视频截图``); a longer line under a picture is usually the
#: paragraph that resumes the text.
MAX_CAPTION = 60
#: Classes of caption and photo-credit elements (``image-caption``, ``Figure-credit``,
#: ``wp-caption-text``, ``newsCaption``, ``pic_info``): what sits in them describes a picture,
#: not the story. Matched on whole class names split at ``-``/``_`` (`caption_class`), never
#: inside a longer word: ``LeftPhotoInfo`` is one site's article container, and a substring
#: rule (``photo[-_]?info``) once dropped all of its paragraphs as captions.
CAPTION_WORDS = frozenset({"caption", "captions", "credit", "credits", "figcaption"})
#: Words that name a caption when they follow a picture word (``pic-info``, ``img_desc``).
CAPTION_PICTURE_WORDS = frozenset({"img", "pic", "photo", "image", "picture"})
CAPTION_DETAIL_WORDS = frozenset({"desc", "info", "txt", "text", "meta", "note", "intro"})
#: A class name that is one of these words joined (``imgdesc``, ``picinfo``), or ends in
#: ``caption`` (``newsCaption``, an unambiguous word).
CAPTION_JOINED_RE = re.compile(
    r"^(?:(?:img|pic|photo|image|picture)(?:desc|info|txt|text|meta|note|intro)|\w*caption)$",
    re.I,
)
_CLASS_PART_RE = re.compile(r"[-_]+")


def caption_class(value: str) -> bool:
    """Whether a class attribute names a caption element, by whole names and their parts."""
    for name in value.split():
        if CAPTION_JOINED_RE.match(name):
            return True
        parts = [p.lower() for p in _CLASS_PART_RE.split(name) if p]
        if any(p in CAPTION_WORDS for p in parts):
            return True
        for a, b in itertools.pairwise(parts):
            if a in CAPTION_PICTURE_WORDS and b in CAPTION_DETAIL_WORDS:
                return True
    return False


#: Centered blocks: CMS editors center the caption under a picture, never a body paragraph.
CENTER_STYLE_RE = re.compile(r"text-align\s*:\s*center", re.I)
#: Center classes (``f_center`` on 163.com, ``text-center`` in Bootstrap themes).
CENTER_CLASS_RE = re.compile(r"(?:^|[\s_-])center(?:$|\s)", re.I)
#: ``</body>``/``</html>`` followed by more markup: a server-side include's header fragment
#: closing the page early. libxml2 drops what follows (the article), browsers do not. An end tag
#: is premature when a block (`BLOCK_START_RE`) opens after it; the two are separate patterns
#: because one regex with a look-ahead for the block rescans the rest of the page from every end
#: tag, quadratic on a page of many ``</body>`` tags (a 230 KB page took 49 s).
END_TAG_RE = re.compile(r"</(?:body|html)\s*>", re.I)
BLOCK_START_RE = re.compile(r"<(?:div|p|table|article|section|h[1-6])[\s>]", re.I)

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
#: ``dateUpdate`` is Baidu's (Baijiahao) itemprop; its pages show only ``10-08 12:00``, so it is
#: also where a year-less shown date finds its year.
META_MODIFIED = (
    "article:modified_time",
    "og:updated_time",
    "dateModified",
    "dateUpdate",
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
    # The value may start with a role ("作者:本报记者 吴昊", "采写：南都见习记者 林子沛"): the
    # role is not the name. 执笔/采写/撰稿 are how columns and metro papers credit the writer.
    r"(?:作者|撰文|文字|记者|执笔|采写|撰稿|By)"
    + COLON
    + r"(?:[\u4e00-\u9fff]{0,6}?(?:记者|通讯员)\s*)?"
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

#: Byline forms at the start or end of the body. A name is 2-5 Han characters (with the
#: middle dot of transliterated names) and never starts with a role word, so that
#: ``记者 张三 通讯员 李四`` does not read 通讯员 as a name; several names are separated by
#: spaces, 、 or & (``叨叨姐、胡一刀&李小飞刀``), and the record keeps the page's own separators.
_NAME = r"(?!记者|通讯员|实习生|编辑|摄影)[\u4e00-\u9fff·]{2,5}"
_NAMES = _NAME + r"(?:[ 、,，&＆]+" + _NAME + r")*"
#: A role between a 文/ label and the name: ``文/观察者网专栏作者 王文``.
_ROLE = r"[\u4e00-\u9fffA-Za-z]{0,12}?(?:记者|通讯员|作者|撰稿人|评论员|研究员)\s*"
#: A publisher name: what ends like a newspaper, agency, site or station.
_ORG = r"[\u4e00-\u9fffA-Za-z·]{1,14}?(?:报|社|网|台|新闻|杂志|周刊|客户端)"
BYLINE_LINE_RES = (
    # 本报记者 张三 / 记者 张三 李四 / 新华社记者 张三 / 《棱镜》作者 周纯 (also with 报道). A
    # trailing 摄 makes it a photo credit, and a photographer is not the writer. 作者 needs a
    # space or colon after it: ``作者最新文章`` is a sidebar heading.
    re.compile(
        r"^[□■◎●]?\s*(?:《[^》]{1,12}》)?(?:[\u4e00-\u9fff]{0,6}?)"
        r"(?:(?:记者|通讯员)\s*[:：]?\s*|作者(?:\s*[:：]\s*|\s+))("
        + _NAMES
        + r")\s*(?:报道|发自\S*)?$"
    ),
    # 文/李四, 文|李四, 撰文:李四, 执笔/叨叨姐、胡一刀&李小飞刀, 采写：南都见习记者 林子沛, and in
    # brackets with a role: 【文/观察者网专栏作者 王文】
    re.compile(
        r"^[□■◎●【\[]?\s*(?:文|撰文|文字|作者|执笔|采写|撰稿)\s*[/|｜:：]\s*(?:"
        + _ROLE
        + r")?("
        + _NAMES
        + r")\s*[】\]]?$"
    ),
    # The header WeChat posts carry when a portal reprints them: ``原创： 路闻卓立编译 公众号名``
    # (writer, optional 编译/整理, then the account).
    re.compile(r"^原创\s*[:：]\s*(" + _NAME + r"?)(?:编译|整理)?\s+\S{2,20}$"),
    # Writer and publisher under the headline: ``石佳/中国青年报``.
    re.compile(r"^(" + _NAMES + r")\s*[/|｜]\s*" + _ORG + r"$"),
    # By Jane Doe
    re.compile(r"^By\s+([A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3})$"),
)
#: ``石佳/中国青年报`` and a bare ``新华社`` under the headline: the publisher part is the 来源.
BYLINE_ORG_RE = re.compile(r"^(?:" + _NAMES + r"\s*[/|｜]\s*)?(" + _ORG + r")$")
#: A trailing byline in parentheses at the very end of the last paragraph: ``…局面。(王法)``.
TRAILING_BYLINE_RE = re.compile(
    r"[(（]\s*(?:[\u4e00-\u9fff]{0,6}?(?:记者|通讯员)\s*)?(" + _NAMES + r")\s*[)）]\s*$"
)
#: The reporter named after the dateline in the first paragraph, which stays in the body:
#: ``新华社巴黎12月9日电（记者唐霁）法国…``, ``新京报快讯（记者 裴剑飞）今日…``. Interns and
#: correspondents after the reporters (``通讯员 李四``) are credits, not the writer.
DATELINE_BYLINE_RE = re.compile(
    r"^.{0,40}?(?:电|讯|消息)\s*[(（]\s*(?:[\u4e00-\u9fff]{0,6}?)(?:记者|通讯员)\s*("
    + _NAMES
    + r")\s*(?:(?:通讯员|实习生)\s*"
    + _NAMES
    + r"\s*)?[)）]"
)
#: Values of an author field that say "no author": unknown, anonymous, the site itself.
AUTHOR_PLACEHOLDERS = frozenset(
    {
        "未知",
        "佚名",
        "匿名",
        "不详",
        "无",
        "暂无",
        "本站",
        "本网",
        "管理员",
        "admin",
        "小编",
        "网络",
    }
)
#: 来源 values that name no publisher: ``来源：网络`` under a reprint means "from the internet".
SOURCE_PLACEHOLDERS = frozenset({"网络", "互联网", "网友", "网络整理", "未知", "不详", "佚名"})
#: Markers on an unlabelled info line that are not the publisher's name: ``原创 GameForce
#: 2019-09-04 22:18``, ``2019-09-05 11:10 游民星空[整理] 1`` (a comment count), ``· 苏皖城市报道``.
INFO_LINE_NOISE_RE = re.compile(
    r"原创|首发|独家|[\[【][^\]】]{1,4}[\]】]|\d{1,2}[:：]\d{2}(?:[:：]\d{2})?|(?<!\S)\d+(?!\S)|[·•|｜]"
)
#: Lines right under the headline searched for the info line, the account and a byline: the
#: headline, an optional repeat of it, the date/source line, a font-size widget and the author
#: card fit in this many lines; further down is the article.
HEADER_LINES = 10
#: A line of article prose ends the header: 30+ characters with sentence punctuation (info lines,
#: account names and widgets have none; a short sub-title may, but is under 30).
PROSE_LINE_RE = re.compile(r"^(?=.{30}).*[。，！？；]")
#: Classes/ids that mark where a template prints the author or the publisher (``author-name``,
#: ``news_paike_author``, ``a_source``, ``media-user``). Comment and related-list entries carry
#: them too, which is why only elements shown in the header under the headline count.
CARD_XPATH = (
    ".//*[contains(@class,'author') or contains(@class,'source') or contains(@class,'media')"
    " or contains(@id,'author') or contains(@id,'source')]"
)
#: The author card and the info line sit beside the headline: within the headline element's
#: ancestor this many levels up (h1 > title box > header box on Baijiahao; one level on Toutiao,
#: QQ and The Paper). Searching that box, not the whole tree, keeps the lookup at a fraction of a
#: millisecond on portal pages of several thousand elements.
HEADER_ANCESTORS = 2
#: Elements that hold a headline.
HEADLINE_TAGS = ("h1", "h2", "h3")
AUTHOR_CLASS_RE = re.compile(r"(?:^|[\s_-])(?:author|writer|byline)(?:$|[\s_-])", re.I)
SOURCE_CLASS_RE = re.compile(r"(?:^|[\s_-])(?:source|media)(?:$|[\s_-])", re.I)
#: Declared authors (meta/JSON-LD) that name an organisation: portals fill the field with the
#: site or a desk name, and the record wants the writer or nothing.
NOT_PERSON_RE = re.compile(
    r"(?:网|报|社|台|新闻|财经|频道|中心|编辑部|日报|晚报|客户端|官方|公司|集团|Inc\.?|News|Media)$",
    re.I,
)
#: A platform account's verification line that names an organisation (Baijiahao prints
#: ``青岛软媒网络科技有限公司`` under a media account, ``优质原创作者`` under a person's): such an
#: account is a publisher, the 来源, not the writer.
ORG_VERIFIED_RE = re.compile(
    r"(?:公司|集团|报社|杂志社|出版社|电视台|广播电台|新闻网|日报|晚报|研究院|委员会|政府|局|厅|办公室)$"
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

#: "Scan the QR code below to follow / unlock more": an account's sign-off, not a sentence about
#: QR codes (which names no follow-up action right after the code).
QR_SIGN_OFF = (
    r"(?:扫描|扫码|长按|识别)(?:下方|上方|文末|图中|下面|左侧|右侧|图片)?的?二维码"
    r".{0,12}?(?:关注|下载|解锁|加入|订阅|更多|进群|入群)"
)

#: Whole lines that are portal chrome, not article. Each is matched with ``search`` on a
#: stripped line; anchors and length guards keep them off real paragraphs.
CHROME_LINE_RES = (
    re.compile(
        r"当前位置|您的位置|你的位置|您现在的位置|您所在的?位置|你所在的?位置"
    ),  # breadcrumb
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
    # ``字号：大 中 小``, ``字号: [大] [中] [小] [打印]``.
    re.compile(
        r"^字号" + COLON + r"?(?:\s*[【\[]?\s*(?:[大中小默认]|超大|打印|关闭)\s*[】\]]?){1,6}$"
    ),
    re.compile(r"^[(（【\[]?\s*(?:本文原标题|原标题|图片来源|图源|题图来源)\s*[:：]"),
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
    # Credit lines closing WeChat-style posts: ``责编|陈梦莹``, ``校对丨黄慧敏``, ``来源|广州参考``.
    re.compile(
        r"^(?:责任编辑|责编|编辑|校对|责任校对|审核|审校|终审|监制|统筹|排版|美编|编审|策划|出品|来源)"
        r"\s*[|｜丨]\s*[^。！？]{1,30}$"
    ),
    re.compile(
        r"^(?:校对|责任校对|审核|审校|终审|监制|统筹|排版|美编|编审)" + COLON + r"[^。！？]{1,30}$"
    ),
    # A lone source line (``来源：新华社``) repeats what the record keeps in ``source``.
    re.compile(r"^[(（]?\s*来源" + COLON + r"[^。！？，,]{1,30}[)）]?$"),
    # Promotions: a bracketed call to action (``【点击投票】``), a QR code to scan, a teaser that
    # ends in a 【详细】 link to another article, a pointer to a topic page.
    re.compile(r"[【\[]\s*点击\S{1,4}\s*[】\]]"),
    re.compile(r"^.{0,100}" + QR_SIGN_OFF + r".{0,60}$"),
    re.compile(r"[【\[]\s*(?:详细|详情|全文)\s*[】\]]$"),
    re.compile(r"^(?:相关|更多)(?:资讯|新闻|阅读|内容|报道|专题)\S{0,3}" + COLON + r".{0,30}$"),
    # A picture's stand-alone label under it (``资料图``) and a bookmark dialog's buttons.
    re.compile(r"^(?:资料图|资料图片|配图|示意图|网络配图|网络图片|视频截图|效果图)$"),
    re.compile(r"^(?:已收藏|收藏成功|取消收藏|知道了|我知道了)[!！]?$"),
    # Nothing a reader can read: broken emoji (U+FFFD), arrows, rules of dashes or stars.
    re.compile(r"^\W*$"),
    # A site footer's contact block: two or more of 地址/邮编/电话/传真/邮箱 on one short line.
    re.compile(
        r"^(?=.{0,160}$)(?!.*[。！？])(?:.*?(?:地址|邮编|邮政编码|电话|传真|邮箱|E-?mail)\s*[:：]){2}",
        re.I,
    ),
    # Photo credits on a line of their own: ``城市摄影队 周斌 摄``, ``摄影/张艳``, ``图/张三``.
    re.compile(r"^(?:摄影|摄|图|图片|图文)\s*[/／|｜:：]\s*[^。！？，,]{1,20}$"),
    re.compile(r"^[^。！？，,]{1,30}\s摄$"),
    # The end-of-post mark of WeChat-style articles: ``- THE END -``, ``—END—``.
    re.compile(r"^[-—–\s·]*(?:THE\s+)?END[-—–\s·]*$", re.I),
    # A reprint notice: ``转载请注明出处：…``, ``如需转载请联系…``.
    re.compile(r"^.{0,12}(?:转载请注明|如需转载|未经授权.{0,6}不得转载)(?=.{0,80}$)"),
    # ``返回搜狐，查看更多``.
    re.compile(r"^返回.{0,12}查看更多"),
    # Labels left without a value by a template: ``来源于：``, ``发布日期：``, ``作者： 来源：``.
    re.compile(
        r"^(?:\s*(?:来源于?|发布日期|发布时间|发表时间|日期|时间|作者|编辑|责任编辑|浏览次数|点击数|阅读数?|字号)\s*[:：]\s*)+$"
    ),
)

#: A name for each of `CHROME_LINE_RES`, in order: what ``zhengwen extract --explain`` shows as
#: the rule that removed a line.
CHROME_LINE_NAMES = (
    "breadcrumb",
    "editor",
    "footer-nav",
    "copyright",
    "icp-licence",
    "contact-line",
    "statement",
    "to-top",
    "share",
    "prev-next",
    "related-heading",
    "print-widget",
    "font-size",
    "original-title",
    "report-line",
    "rights",
    "photo-credit",
    "caption-pointer",
    "source-note",
    "more-link",
    "ad-slot",
    "credit-pipe",
    "credit-label",
    "source-line",
    "call-to-action",
    "qr-code",
    "read-more",
    "topic-link",
    "picture-label",
    "bookmark-dialog",
    "no-text",
    "contact-footer",
    "photo-credit",
    "photo-credit",
    "end-mark",
    "reprint-notice",
    "more-link",
    "empty-label",
)
assert len(CHROME_LINE_NAMES) == len(CHROME_LINE_RES)

#: Lines that end the article: what follows them is comments, related news or the footer. They
#: only cut when they come after `STOP_MIN_SHARE` of the body, so a 相关链接 box the CMS put
#: before the first paragraph does not erase the article.
STOP_LINE_RES = (
    re.compile(
        r"^(?:相关阅读|相关新闻|相关文章|相关推荐|相关链接|延伸阅读|推荐阅读|热点新闻|热门推荐|精彩推荐|猜你喜欢|为你推荐|往期回顾|最热评论|最新评论|热门评论|热门跟贴)\s*[:：]?$"
    ),
    re.compile(r"^(?:网友评论仅供|更多猛料|声明[:：]|特别声明[:：])"),
    re.compile(r"^[(（\[【]?\s*(?:责任编辑|责编)\s*[:：|｜丨]"),
    # A related box titled with a separator (``延伸 · 推荐`` on 163.com).
    re.compile(r"^(?:延伸|相关|精彩)\s*[·・|｜]\s*(?:推荐|阅读)$"),
    # A WeChat post's sign-off: scan the QR code to follow the account.
    re.compile(QR_SIGN_OFF),
)
#: A line rule may not remove more than this share of a body's characters when what it removes
#: includes prose (lines of sentences): a site whose every paragraph ends in ``【详细】`` or whose
#: article box is named like a caption would otherwise lose the whole article to one rule. Such
#: a rule is not applied on that page (`crawler.extract.cleanup.clean_body`).
MAX_RULE_SHARE = 0.3
#: ... counting only removals of at least this many prose lines (one long legal notice is not a
#: sign of a rule gone wrong).
MIN_RULE_PROSE_LINES = 2
#: Share of the body's prose that must come before a stop marker: prose is lines ending like a
#: sentence (。 or .), so a long headline list after the marker does not outweigh the article.
STOP_MIN_SHARE = 0.5
#: A line ending like a sentence, optionally inside closing quotes or brackets.
PROSE_END_RE = re.compile(r"[。.!?！？…][”\"’'」』)）]*$")
#: A line opening the body is the headline reworded when it shares this share of its characters
#: with the headline (as a bag) and is at most this many times as long: ``姚明对周琦说了啥？大魔王
#: 上下半场判若两人`` under ``…？周琦上下半场判若两人`` shares 17 of 20.
TITLE_VARIANT_MIN_SHARE = 0.7
TITLE_VARIANT_MAX_RATIO = 1.5
#: Dates and times stripped from a list item before judging it link text: a headline list item
#: is the linked headline plus an unlinked timestamp.
LIST_DATE_RES = (NUMERIC_DATE_RE, CJK_DATE_RE)

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
TITLE_SEPARATORS_RE = re.compile(r"\s*(?:_|\||｜|--|—|–| - |-|»|«|::|·)\s*")
#: Words in an image URL that mark it as no picture of the story: icons, QR codes, avatars,
#: emoji, logos, share buttons, spacer pixels (whole tokens of the path, so ``/photo/`` or
#: ``faceless`` do not match).
NOT_PICTURE_TOKENS = frozenset(
    {
        "qr",
        "qrcode",
        "erweima",
        "ewm",
        "avatar",
        "avatars",
        "logo",
        "icon",
        "icons",
        "emoji",
        "emoticon",
        "emotion",
        "smiley",
        "share",
        "weixin",
        "wechat",
        "spacer",
        "blank",
        "pixel",
        "loading",
        "btn",
        "button",
    }
)
#: How far above the body's first line a headline (or the date line under it) may sit: the
#: header of the zh pages (headline, date/source line, share widgets, an author card, a lead)
#: spans up to 15 rendered lines.
HEADER_WINDOW = 20
#: Decorations around a site name that are not part of it.
SITE_NAME_SUFFIX_RE = re.compile(r"(?:官方网站|官网|首页)$")
COPYRIGHT_HOLDER_RE = re.compile(
    r"(?:版权所有|Copyright\s*©?|©)\s*[:：]?\s*(?:\d{4}(?:-\d{4})?\s*)?([^\s,，|｜、.。;；]{2,30})",
    re.I,
)

#: A date without a year, with a time: ``10-08 12:00``, ``10月8日 12:00``. Feeds, app-style pages
#: (Baijiahao, Toutiao) print only month and day; the time is required so that scores and
#: ratios (``3-1``) are not read as dates. The same pages print older articles with a two-digit
#: year in front (``18-03-08 23:16``): the optional first group, always year-month-day order on
#: Chinese pages. Spans rendered without a space between them (``10-0812:00``) still match.
YEARLESS_DATE_RE = re.compile(
    r"(?<![\d.:/-])(?:(\d{2})[-/])?(\d{1,2})(?:-|/|月)(\d{1,2})日?\s*(\d{1,2})[:：](\d{2})"
    r"(?:[:：](\d{2}))?(?![\d:])"
)
#: Publication-time keys in the JSON state that app-style pages (QQ news, Readhub) embed in a
#: ``<script>`` instead of meta tags. Read only when the page declares and shows no date at all:
#: such blobs also list related articles, so they are the last resort, not a first source.
SCRIPT_DATE_RE = re.compile(
    r"[\"'](?:pubtime|pub_time|pubTime|pubDate|publishDate|publish_time|publishTime|ptime)[\"']"
    r"\s*:\s*[\"']([^\"']{8,40})[\"']"
)
#: The year in an article URL: ``/2019/1008/``, ``/2019-10/08/``, ``/20191008/``, and 163.com's
#: two-digit ``/19/0907/``.
URL_YEAR_RES = (
    re.compile(r"(?<!\d)((?:19|20)\d{2})(?:[-/_]?\d{2}){1,2}(?!\d)"),
    re.compile(r"/(\d{2})/(?:0[1-9]|1[0-2])[0-3]\d/"),
)
