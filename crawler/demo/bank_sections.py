"""Per-section vocabulary of the demo portal (data only): titles, subjects, actions, quotes.

A sentence is `open + subject + action + result`, so a section of a few dozen lines per slot
yields thousands of distinct sentences; see `crawler.demo.bank` for why the bank is large.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.demo.bank import lines


@dataclass(frozen=True, slots=True)
class SectionBank:
    slug: str
    name: str
    titles: tuple[str, ...]
    topics: tuple[str, ...]
    """Fills `{topic}`: one per article (an industry, a kind of case, a public service)."""
    subjects: tuple[str, ...]
    actions: tuple[str, ...]
    results: tuple[str, ...]
    facts: tuple[str, ...]
    quotes: tuple[str, ...]
    speakers: tuple[str, ...]
    headings: tuple[str, ...]
    """Sub-headings in the seed's style (``南下：走出去 驻下来``)."""
    futures: tuple[str, ...]


JZFP = SectionBank(
    slug="jzfp",
    name="精准扶贫",
    titles=lines("""
{city}驻点招商引进优强企业{n}家
{county}：{topic}产业铺就群众增收路
驻蹲开放前沿 {city}深耕东西部扶贫协作
{county}易地扶贫搬迁安置点：新家园里话新生活
{city}：消费扶贫让{topic}走出大山
{county}决战决胜脱贫攻坚纪实
小{topic}撬动大产业 {county}{nnn}户贫困户稳定增收
{city}东西部扶贫协作签约项目{n}个
第一书记{name}：把群众的事当成自己的事
{county}“组织化”就业帮扶让搬迁群众稳得住
{city}开展脱贫攻坚“回头看”专项行动
产业路通了 {village}村村民腰包鼓了
{county}：{topic}基地成了“致富车间”
{city}招商引资合同投资额突破{nnn}亿元
{village}村的脱贫“账本”
"""),
    topics=lines("""
茶叶
食用菌
辣椒
中药材
生态畜牧
精品水果
刺梨
竹笋
蔬菜
油茶
"""),
    subjects=lines("""
{county}扶贫办
驻点招商工作队
{city}投资促进局
当地党委政府
{village}村党支部
帮扶工作队
{county}农业农村局
东西部扶贫协作工作组
{company}
{village}村{topic}专业合作社
{county}人社局
结对帮扶的东部企业
"""),
    actions=lines("""
先后走访企业{nnn}家(次)
围绕{topic}产业链开展精准招商
建成{topic}标准化种植基地{n}个
组织贫困劳动力赴东部省份务工
推动{n}个扶贫项目落地开工
举办消费扶贫专场推介会{n}场
为搬迁群众开发公益性岗位{nnn}个
引导龙头企业与贫困户建立利益联结机制
把冷链物流设施建到田间地头
对建档立卡贫困户逐户开展走访核查
采取“公司+合作社+农户”模式发展{topic}
开通扶贫产品直播带货专场
在安置点配套建设扶贫车间{n}个
争取东部协作资金{yi}
邀请农技专家开展技能培训{n}期
"""),
    results=lines("""
带动{nnn}户贫困户户均增收{nnnn}元
签约金额达{yi}
累计带动就业{wan}人
产品远销{n}个省份
全县{n}个贫困村全部出列
群众满意度达到{pct}
村集体经济收入突破{nn}万元
实现销售额{nnnn}万元
贫困群众人均纯收入增长{pct}
一批群众在家门口实现了就业
"""),
    facts=lines("""
{county}地处{prov}乌蒙山区腹地，曾是全省贫困程度最深的县之一。
走出去，最终目的就是为了请进来。
招商不怕路途艰，越是艰难越向前。
驻点工作队的马不停蹄，也换来了丰硕成果。
前方项目引进来，后方更要确保把项目落好地。
搬得出，更要稳得住、能致富。
如今的{village}村，水泥路通到了家家户户门口，太阳能路灯沿路排开。
{village}村过去“种一坡、收一箩”，群众守着好山好水却过着穷日子。
{topic}产业从无到有、从小到大，成了当地群众增收的“铁杆庄稼”。
走进{county}{topic}产业园，工人们正忙着分拣、包装、装车。
安置点配套建设了学校、卫生室和农贸市场，搬迁群众生活十分便利。
为防止返贫，{county}建立了动态监测和帮扶机制，对边缘户实行“一户一策”。
"""),
    quotes=lines("""
以前种玉米一年到头挣不了几个钱，现在种{topic}一亩能收入{nnnn}多元
企业来了，家门口就能上班，照顾老人孩子两不误
招商不能坐等，要主动上门、敲门招商
搬进新房子，孩子上学近了，看病也方便了
只要肯干，日子就会越过越红火
我们要把耽误的时间抢回来，把遭受的损失补回来
这条路修通以后，收购商的车直接开到地头
"""),
    speakers=lines("""
{village}村村民{name}
{city}投资促进局负责人{name}
驻村第一书记{name}
{company}总经理{name}
{county}扶贫办主任{name}
搬迁户{name}
"""),
    headings=lines("""
南下：走出去 驻下来
逆行：等不得 等不起
合力：想办法 建机制
筑基：强产业 稳就业
破题：找路子 拓销路
扎根：沉下去 干起来
"""),
    futures=lines("""
持续巩固拓展脱贫攻坚成果，做好与乡村振兴有效衔接
把{topic}产业做大做强，让更多群众吃上“产业饭”
继续强化驻点招商，推动更多签约项目落地投产
"""),
)

FZYW = SectionBank(
    slug="fzyw",
    name="法治要闻",
    titles=lines("""
{city}中院集中宣判{n}起涉黑涉恶案件
{county}检察院：用心守护未成年人健康成长
{city}警方破获一起特大电信网络诈骗案 抓获嫌疑人{nn}名
民法典进万家 {city}普法宣传活动走进社区
{city}两级法院开展“执行攻坚”专项行动
{county}人民法院巡回审判进乡村
扫黑除恶专项斗争：{city}打掉涉恶犯罪团伙{n}个
{city}检察机关公益诉讼守护绿水青山
{city}发布{n}起劳动争议典型案例
法官{name}：让每一起案件都经得起检验
{city}推进“一村一法律顾问”全覆盖
{city}开展打击治理跨境赌博专项行动
一起{topic}案背后的警示
{county}公安局“百日行动”破获刑事案件{nnn}起
{city}律师进企业开展“法治体检”
"""),
    topics=lines("""
诈骗
非法吸收公众存款
寻衅滋事
非法采矿
拒不执行判决、裁定
污染环境
帮助信息网络犯罪活动
合同纠纷
"""),
    subjects=lines("""
{city}中级人民法院
{county}人民检察院
{city}公安局
办案民警
承办法官
{city}司法局
执行干警
{county}公安局刑侦大队
公益诉讼检察官
{city}律师协会
{county}法律援助中心
{county}人民法院{village}法庭
"""),
    actions=lines("""
依法公开审理一起{topic}案
对{n}名被告人作出一审判决
发出检察建议书{n}份
集中开展涉民生案件专项执行
深入{n}个乡镇开展民法典宣讲
组织律师为群众提供免费法律咨询
依法对犯罪嫌疑人采取刑事强制措施
建立涉案财产处置联动机制
开展凌晨集中执行行动
对{nn}家企业开展合规走访
受理法律援助案件{nnn}件
运用大数据研判锁定嫌疑人落脚点
通过“云庭审”在线审理案件{nnn}件
联合多部门开展专项整治
"""),
    results=lines("""
执结案件{nnn}件，执行到位金额{yi}
涉案金额达{nnnn}万元
当事人当庭表示服判息诉
挽回经济损失{nnn}万元
受理群众咨询{nnnn}人次
督促修复受损林地{nn}亩
追缴违法所得{nn}万余元
{nnn}名农民工拿到了被拖欠的工资
相关部门已全部整改到位
有效震慑了违法犯罪分子
"""),
    facts=lines("""
经审理查明，被告人以高额回报为诱饵，向社会不特定公众吸收资金。
法院审理后认为，被告人的行为已构成{topic}罪，依法应予惩处。
庭审中，控辩双方围绕争议焦点充分发表了意见。
本案的宣判，彰显了司法机关依法惩治违法犯罪的坚定决心。
接到报警后，专案组立即开展侦查，经过{m}个多月的缜密调查，案件终于告破。
办案检察官在审查中发现，该案背后还涉及{n}名未成年人。
据了解，该团伙分工明确，组织严密，作案手段十分隐蔽。
法官提醒，群众在遇到纠纷时应通过合法途径维护自身权益。
民法典被誉为“社会生活的百科全书”，与每个人的生活息息相关。
执行难关系到当事人的切身利益，也关系到司法公信力。
在庭审现场，{nn}名人大代表、政协委员旁听了庭审。
宣传活动现场，工作人员发放宣传资料{nnnn}余份。
"""),
    quotes=lines("""
法律不是冷冰冰的条文，要让群众感受到公平正义
打官司不用跑城里，法官在家门口就把事情办了
对违法犯罪行为，我们始终保持高压态势
执行工作一头连着胜诉当事人，一头连着司法公信力
以前不懂法吃了亏，现在遇到事先问问法律顾问
我们将以案为鉴，举一反三，堵塞管理漏洞
"""),
    speakers=lines("""
承办法官{name}
{county}人民检察院检察长{name}
{city}公安局刑侦支队负责人{name}
当事人{name}
律师{name}
{village}村村民{name}
"""),
    headings=lines("""
亮剑：打得准 打得狠
护航：优环境 促发展
普法：进社区 入人心
攻坚：啃硬骨头 破执行难
延伸：办一案 治一片
"""),
    futures=lines("""
持续加大对{topic}等违法犯罪的打击力度，切实维护人民群众合法权益
深入推进法治宣传教育，让民法典走到群众身边、走进群众心里
完善多元解纷机制，把矛盾纠纷化解在基层、解决在萌芽状态
"""),
)

SHMS = SectionBank(
    slug="shms",
    name="社会民生",
    titles=lines("""
{city}今年改造老旧小区{n}个 惠及居民{nnnn}户
{city}：家门口的“养老驿站”让老人乐享晚年
{county}农村饮水安全工程让{nnnn}户群众喝上放心水
{city}前三季度新增城镇就业{wan}人
“一网通办”让{city}群众办事少跑腿
{city}垃圾分类试点小区扩大到{nnn}个
{city}城乡居民医保待遇再提高
{county}新建改扩建学校{n}所 新增学位{nnnn}个
{city}：夜市经济点亮城市烟火气
{city}启动冬季供暖 {nn}万户居民用上热
社区网格员{name}：守好群众家门口的“小事”
{city}打通农村公路“最后一公里”
{county}“{topic}”民生实事件件有回音
{city}发放消费券拉动消费{yi}
{city}首批“15分钟便民生活圈”投用
"""),
    topics=lines("""
老旧小区改造
居家养老
农村饮水
稳岗就业
垃圾分类
医疗保障
义务教育
农村公路
"""),
    subjects=lines("""
{city}住建局
{city}人社局
社区工作人员
{city}民政局
{county}教育局
{city}医保局
街道办事处
志愿者服务队
{city}交通运输局
{city}卫健委
{village}社区居委会
{county}水务局
"""),
    actions=lines("""
对辖区{nnn}栋楼房实施外墙保温改造
开展“春风行动”线上招聘会{n}场
为{nnn}名高龄老人发放助餐补贴
新建社区养老服务中心{n}个
推行“一窗受理、集成服务”
完成农村公路提质改造{nnn}公里
组织{nnn}名志愿者参与疫情防控
为困难群众办理医疗救助{nnnn}人次
加装电梯{nn}部
新建改建农村集中供水工程{nn}处
开通“跨省通办”服务专窗
开展“我为群众办实事”走访活动
对{nn}个农贸市场进行提质改造
把{topic}纳入年度民生实事清单
"""),
    results=lines("""
惠及居民{nnnn}户
{nnnn}名困难群众受益
群众办事时间平均缩短{pct}
城镇调查失业率控制在{pct}以内
农村自来水普及率达到{pct}
{nnn}名高校毕业生实现就业
日均客流量超过{nnnn}人次
居民满意度达到{pct}
一批群众急难愁盼问题得到解决
"""),
    facts=lines("""
小区楼道亮了，路面平了，停车位多了，居民的笑容也多了。
民生无小事，枝叶总关情。
记者在{village}社区看到，改造后的小区绿树成荫，健身器材一应俱全。
老人们在驿站里下棋、读报、做理疗，每天还能吃上热乎乎的午饭。
“家门口”的变化，是群众获得感最直观的体现。
疫情防控常态化以来，{city}在抓好防控的同时加快推进民生项目建设。
一到傍晚，夜市里灯火通明、人声鼎沸，小吃摊前排起了长队。
今年，{city}将{n}件民生实事项目全部纳入政府工作报告，逐一明确责任单位。
如今，越来越多的事项实现了“指尖办”“掌上办”。
雨季来临前，施工人员加班加点，确保工程按期完工。
针对群众反映强烈的停车难问题，街道新建了{nnn}个停车位。
社区还组建了“银发志愿队”，让老人参与到社区治理中来。
"""),
    quotes=lines("""
以前下雨天楼道漏水，现在改造完了，住着舒心多了
在家门口就能找到工作，还能照顾家里
现在办事一次就能办好，真是方便多了
社区的事就是自家的事，能帮一把是一把
老人吃饭有了着落，我们在外上班也放心
"""),
    speakers=lines("""
居民{name}
{city}人社局负责人{name}
社区党委书记{name}
{village}村村民{name}
{city}住建局相关负责人{name}
摊主{name}
"""),
    headings=lines("""
安居：改得好 住得美
乐业：稳岗位 促就业
颐养：有所养 有所乐
便民：少跑腿 好办事
兜底：保基本 暖民心
"""),
    futures=lines("""
聚焦群众急难愁盼问题，持续办好一批民生实事
推进{topic}工作提质扩面，让更多群众享受到发展成果
完善基本公共服务体系，不断增强群众的获得感、幸福感、安全感
"""),
)

SECTIONS: tuple[SectionBank, ...] = (JZFP, FZYW, SHMS)
