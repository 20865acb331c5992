"""Words and sentence templates the demo portal writes its articles from (data only).

Templates are one per line in a block so the Chinese text stays readable and diffable; a `{slot}`
is filled by `crawler.demo.content`. The bank is large on purpose: articles are assembled from
fragments, and a small bank would make articles of one section near-duplicates of each other,
which would hide dedupe bugs instead of exercising them. Lines ending in a backslash continue on
the next line (Python joins them), which keeps lines under the length limit.
"""

from __future__ import annotations


def lines(block: str) -> tuple[str, ...]:
    """One template per non-empty line."""
    return tuple(s.strip() for s in block.splitlines() if s.strip())


SITE_NAME = "法治晨报"

# (province, city, counties, villages): one place per article keeps its story coherent.
PLACES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("贵州", "遵义市", ("湄潭县", "正安县", "务川县", "凤冈县"), ("花茂", "田坝", "龙泉", "茶山")),
    ("贵州", "毕节市", ("威宁县", "赫章县", "纳雍县", "大方县"), ("海雀", "新寨", "化乐", "石板")),
    (
        "贵州",
        "黔东南州",
        ("雷山县", "从江县", "榕江县", "台江县"),
        ("西江", "岜沙", "乌东", "加榜"),
    ),
    ("云南", "昭通市", ("镇雄县", "彝良县", "鲁甸县", "永善县"), ("龙山", "大坪", "红岩", "新街")),
    ("四川", "凉山州", ("昭觉县", "布拖县", "美姑县", "金阳县"), ("三河", "悬崖", "马鞍", "青杠")),
    ("甘肃", "定西市", ("通渭县", "岷县", "漳县", "渭源县"), ("元古堆", "中川", "马坞", "杏园")),
    (
        "湖南",
        "湘西州",
        ("花垣县", "保靖县", "古丈县", "凤凰县"),
        ("十八洞", "默戎", "夯卡", "菖蒲塘"),
    ),
    (
        "河北",
        "保定市",
        ("阜平县", "涞源县", "易县", "顺平县"),
        ("骆驼湾", "顾家台", "东庄", "南峪"),
    ),
    ("广西", "河池市", ("都安县", "大化县", "东兰县", "巴马县"), ("弄麻", "板升", "长乐", "坡月")),
    ("陕西", "安康市", ("紫阳县", "岚皋县", "平利县", "旬阳县"), ("蒿坪", "双丰", "龙头", "金坪")),
    (
        "江西",
        "赣州市",
        ("兴国县", "于都县", "宁都县", "石城县"),
        ("长冈", "潭头", "黄陂", "沙洲坝"),
    ),
    ("山西", "吕梁市", ("岚县", "临县", "石楼县", "兴县"), ("宋家沟", "碛口", "赵家坪", "蔡家崖")),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾田董潘袁蔡蒋余杜叶程魏苏吕"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力飞兰志宏海波鹏云峰晨欣怡浩宇轩涵嘉琪俊博远佳"
# In GBK but not in GB2312: names are where real portals meet them, and where a GB2312 decoder
# breaks on a page that declares charset=gb2312.
GBK_ONLY = "堃喆镕昇琍燊赟珺玥璟祎"

REPORTERS = lines("""
王法
李晓
张宁
刘畅
陈曦
杨帆
赵磊
周洁
吴昊
孙悦
何平
郑好
""")
EDITORS = lines("""
李明
王芳
张伟
刘洋
陈静
黄丽
赵鹏
马骏
""")
# (name, weight): 本站 is the portal's own reporting.
SOURCES: tuple[tuple[str, int], ...] = (
    ("本站", 4),
    ("光明网", 3),
    ("新华网", 3),
    ("人民网", 3),
    ("中国新闻网", 1),
    ("法治日报", 1),
    ("中国青年网", 1),
)

COMPANY_PREFIX = lines("""
黔信
远航
华晟
恒泰
金穗
绿源
宏达
裕丰
山海
聚力
""")

OPENS = lines("""
今年以来
{m}月{d}日
近日
截至{m}月底
据统计
去年{m}月以来
疫情发生以来
“十三五”以来
记者从{city}有关部门获悉
在走访中记者了解到
自专项行动开展以来
{m}月{d}日上午
今年上半年
与此同时
为此
在此基础上
从{m}月开始
按照省里的统一部署
""")

GENERIC = lines("""
记者注意到，这样的变化正在{county}的许多地方悄然发生。
一组数据见证了变化：{m}月份，全县相关指标同比增长{pct}，环比增长{pct}。
谈起这些年的变化，不少群众感慨良多。
这项工作开展以来，得到了群众的普遍支持。
下一步，当地还将总结经验做法，在更大范围内推广。
为确保各项措施落到实处，{city}成立了由主要负责同志任组长的工作专班。
工作专班实行周调度、月通报制度，对进度滞后的单位及时督促提醒。
从“要我干”到“我要干”，群众的精气神也在悄然改变。
在{county}，类似的故事还有很多。
每到一处，工作人员都认真听取意见建议，现场解答群众关心的问题。
这些举措既解决了眼前的难题，也为长远发展打下了基础。
有关负责人介绍，相关工作已纳入年度目标考核，实行清单化管理。
截至{m}月{d}日，各项任务已完成年度计划的{pct}。
{city}还建立了问题台账，做到发现一个、整改一个、销号一个。
在{village}村村委会的公示栏上，各项收支情况一目了然。
当地把群众满不满意作为检验工作成效的标准。
据介绍，{city}将每季度对推进情况开展一次“回头看”。
“{slogan}”，这句话写在{village}村村委会的墙上，也记在干部群众的心里。
会议要求，要压紧压实工作责任，确保各项任务按时保质完成。
当地还通过微信公众号、村村响广播等方式，把政策讲到群众心坎上。
""")

SLOGANS = lines("""
干部多跑腿，群众少跑路
只要肯干，日子就有奔头
一件事情接着一件事情办，一年接着一年干
群众的事无小事
说了算、定了干，干就干好
""")

ROLES = lines("""
党委书记
县委书记
副县长
局长
办公室主任
负责人
村党支部书记
驻村第一书记
村委会主任
工作人员
""")
