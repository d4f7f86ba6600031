"""Vocabularies of the synthetic province: places, people, shops, companies, handsets.

The province is Jiangsu: its 13 prefecture-level cities with their 2020-census
populations (in 10,000s) and their districts and county-level units with the
administrative division codes that open every resident ID number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class District:
    code: int  # 6-digit administrative division code (first 6 digits of an ID number)
    name: str
    name_en: str


@dataclass(frozen=True, slots=True)
class City:
    name: str
    name_en: str
    population: int  # residents, in 10,000s
    districts: tuple[District, ...]


PROVINCE_NAME = "江苏省"
PROVINCE_NAME_EN = "Jiangsu"
PROVINCE_CODE = "32"


def _districts(*rows: tuple[int, str, str]) -> tuple[District, ...]:
    return tuple(District(code, name, name_en) for code, name, name_en in rows)


CITIES: tuple[City, ...] = (
    City(
        "南京市",
        "Nanjing",
        931,
        _districts(
            (320102, "玄武区", "Xuanwu"),
            (320104, "秦淮区", "Qinhuai"),
            (320105, "建邺区", "Jianye"),
            (320106, "鼓楼区", "Gulou"),
            (320111, "浦口区", "Pukou"),
            (320113, "栖霞区", "Qixia"),
            (320114, "雨花台区", "Yuhuatai"),
            (320115, "江宁区", "Jiangning"),
            (320116, "六合区", "Luhe"),
            (320117, "溧水区", "Lishui"),
            (320118, "高淳区", "Gaochun"),
        ),
    ),
    City(
        "无锡市",
        "Wuxi",
        746,
        _districts(
            (320205, "锡山区", "Xishan"),
            (320206, "惠山区", "Huishan"),
            (320211, "滨湖区", "Binhu"),
            (320213, "梁溪区", "Liangxi"),
            (320214, "新吴区", "Xinwu"),
            (320281, "江阴市", "Jiangyin"),
            (320282, "宜兴市", "Yixing"),
        ),
    ),
    City(
        "徐州市",
        "Xuzhou",
        908,
        _districts(
            (320302, "鼓楼区", "Gulou"),
            (320303, "云龙区", "Yunlong"),
            (320305, "贾汪区", "Jiawang"),
            (320311, "泉山区", "Quanshan"),
            (320312, "铜山区", "Tongshan"),
            (320321, "丰县", "Fengxian"),
            (320322, "沛县", "Peixian"),
            (320324, "睢宁县", "Suining"),
            (320381, "新沂市", "Xinyi"),
            (320382, "邳州市", "Pizhou"),
        ),
    ),
    City(
        "常州市",
        "Changzhou",
        527,
        _districts(
            (320402, "天宁区", "Tianning"),
            (320404, "钟楼区", "Zhonglou"),
            (320411, "新北区", "Xinbei"),
            (320412, "武进区", "Wujin"),
            (320413, "金坛区", "Jintan"),
            (320481, "溧阳市", "Liyang"),
        ),
    ),
    City(
        "苏州市",
        "Suzhou",
        1275,
        _districts(
            (320505, "虎丘区", "Huqiu"),
            (320506, "吴中区", "Wuzhong"),
            (320507, "相城区", "Xiangcheng"),
            (320508, "姑苏区", "Gusu"),
            (320509, "吴江区", "Wujiang"),
            (320581, "常熟市", "Changshu"),
            (320582, "张家港市", "Zhangjiagang"),
            (320583, "昆山市", "Kunshan"),
            (320585, "太仓市", "Taicang"),
        ),
    ),
    City(
        "南通市",
        "Nantong",
        773,
        _districts(
            (320612, "通州区", "Tongzhou"),
            (320613, "崇川区", "Chongchuan"),
            (320614, "海门区", "Haimen"),
            (320623, "如东县", "Rudong"),
            (320681, "启东市", "Qidong"),
            (320682, "如皋市", "Rugao"),
            (320685, "海安市", "Hai'an"),
        ),
    ),
    City(
        "连云港市",
        "Lianyungang",
        460,
        _districts(
            (320703, "连云区", "Lianyun"),
            (320706, "海州区", "Haizhou"),
            (320707, "赣榆区", "Ganyu"),
            (320722, "东海县", "Donghai"),
            (320723, "灌云县", "Guanyun"),
            (320724, "灌南县", "Guannan"),
        ),
    ),
    City(
        "淮安市",
        "Huai'an",
        456,
        _districts(
            (320803, "淮安区", "Huai'an"),
            (320804, "淮阴区", "Huaiyin"),
            (320812, "清江浦区", "Qingjiangpu"),
            (320813, "洪泽区", "Hongze"),
            (320826, "涟水县", "Lianshui"),
            (320830, "盱眙县", "Xuyi"),
            (320831, "金湖县", "Jinhu"),
        ),
    ),
    City(
        "盐城市",
        "Yancheng",
        671,
        _districts(
            (320902, "亭湖区", "Tinghu"),
            (320903, "盐都区", "Yandu"),
            (320904, "大丰区", "Dafeng"),
            (320921, "响水县", "Xiangshui"),
            (320922, "滨海县", "Binhai"),
            (320923, "阜宁县", "Funing"),
            (320924, "射阳县", "Sheyang"),
            (320925, "建湖县", "Jianhu"),
            (320981, "东台市", "Dongtai"),
        ),
    ),
    City(
        "扬州市",
        "Yangzhou",
        456,
        _districts(
            (321002, "广陵区", "Guangling"),
            (321003, "邗江区", "Hanjiang"),
            (321012, "江都区", "Jiangdu"),
            (321023, "宝应县", "Baoying"),
            (321081, "仪征市", "Yizheng"),
            (321084, "高邮市", "Gaoyou"),
        ),
    ),
    City(
        "镇江市",
        "Zhenjiang",
        321,
        _districts(
            (321102, "京口区", "Jingkou"),
            (321111, "润州区", "Runzhou"),
            (321112, "丹徒区", "Dantu"),
            (321181, "丹阳市", "Danyang"),
            (321182, "扬中市", "Yangzhong"),
            (321183, "句容市", "Jurong"),
        ),
    ),
    City(
        "泰州市",
        "Taizhou",
        451,
        _districts(
            (321202, "海陵区", "Hailing"),
            (321203, "高港区", "Gaogang"),
            (321204, "姜堰区", "Jiangyan"),
            (321281, "兴化市", "Xinghua"),
            (321282, "靖江市", "Jingjiang"),
            (321283, "泰兴市", "Taixing"),
        ),
    ),
    City(
        "宿迁市",
        "Suqian",
        499,
        _districts(
            (321302, "宿城区", "Sucheng"),
            (321311, "宿豫区", "Suyu"),
            (321322, "沭阳县", "Shuyang"),
            (321323, "泗阳县", "Siyang"),
            (321324, "泗洪县", "Sihong"),
        ),
    ),
)

# Surnames with rough national frequencies (percent), nudged toward Jiangsu
# (徐, 陆, 顾, 钱, 沈 are commoner there than nationally).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1),
    ("李", 6.5),
    ("张", 6.4),
    ("刘", 5.0),
    ("陈", 4.8),
    ("杨", 3.0),
    ("黄", 2.0),
    ("赵", 1.9),
    ("吴", 2.2),
    ("周", 2.1),
    ("徐", 2.4),
    ("孙", 1.7),
    ("马", 1.3),
    ("朱", 1.8),
    ("胡", 1.3),
    ("郭", 1.1),
    ("何", 1.1),
    ("林", 1.0),
    ("高", 1.1),
    ("罗", 0.9),
    ("郑", 0.9),
    ("梁", 0.8),
    ("谢", 0.8),
    ("宋", 0.7),
    ("唐", 0.8),
    ("许", 0.9),
    ("韩", 0.7),
    ("冯", 0.7),
    ("邓", 0.6),
    ("曹", 0.8),
    ("彭", 0.6),
    ("曾", 0.5),
    ("肖", 0.6),
    ("田", 0.5),
    ("董", 0.6),
    ("袁", 0.6),
    ("潘", 0.6),
    ("于", 0.5),
    ("蒋", 0.7),
    ("蔡", 0.6),
    ("余", 0.4),
    ("杜", 0.4),
    ("叶", 0.5),
    ("程", 0.5),
    ("苏", 0.4),
    ("魏", 0.4),
    ("吕", 0.4),
    ("丁", 0.6),
    ("任", 0.4),
    ("沈", 0.9),
    ("姚", 0.5),
    ("卢", 0.4),
    ("姜", 0.5),
    ("崔", 0.3),
    ("钟", 0.3),
    ("谭", 0.2),
    ("陆", 0.9),
    ("汪", 0.5),
    ("范", 0.4),
    ("金", 0.5),
    ("石", 0.3),
    ("廖", 0.2),
    ("贾", 0.3),
    ("夏", 0.4),
    ("韦", 0.2),
    ("傅", 0.3),
    ("方", 0.4),
    ("白", 0.2),
    ("邹", 0.3),
    ("孟", 0.3),
    ("熊", 0.2),
    ("秦", 0.3),
    ("邱", 0.3),
    ("江", 0.3),
    ("尹", 0.2),
    ("薛", 0.3),
    ("闫", 0.2),
    ("段", 0.2),
    ("雷", 0.2),
    ("侯", 0.2),
    ("龙", 0.1),
    ("史", 0.3),
    ("陶", 0.3),
    ("黎", 0.1),
    ("贺", 0.2),
    ("顾", 0.8),
    ("毛", 0.3),
    ("郝", 0.2),
    ("龚", 0.2),
    ("邵", 0.3),
    ("万", 0.2),
    ("钱", 0.6),
    ("严", 0.3),
    ("戴", 0.4),
    ("孔", 0.2),
    ("汤", 0.3),
    ("葛", 0.3),
    ("殷", 0.2),
    ("欧阳", 0.05),
    ("司马", 0.01),
    ("诸葛", 0.01),
    ("上官", 0.01),
)

GIVEN_MALE = (
    "伟强磊军洋勇杰涛明超俊浩宇鹏辉斌峰建国华平刚飞鑫波亮健龙林文博晨轩睿泽志海东成思嘉皓天阳凯铭宏"
)
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲婷雪倩琳欣怡梅慧颖佳燕红丹萍洁蓉悦彤诗涵雨梦琪妍可馨瑶晶月英兰"

ROADS = (
    "中山路",
    "人民路",
    "解放路",
    "建设路",
    "和平路",
    "新华路",
    "长江路",
    "淮海路",
    "朝阳路",
    "文化路",
    "青年路",
    "胜利路",
    "北京路",
    "上海路",
    "健康路",
    "光明路",
    "幸福路",
    "振兴路",
    "开发区大道",
    "工业园路",
    "学府路",
    "东风路",
    "红旗路",
    "府前街",
    "大学城",
    "新城大道",
    "滨江路",
    "湖滨路",
    "望江路",
    "太湖路",
    "运河路",
    "金陵路",
    "钟山路",
    "育才路",
    "迎宾大道",
    "车站路",
    "公园路",
    "富民路",
    "兴业路",
    "园区大道",
)

AGENT_SHOP_WORDS = ("通讯", "手机城", "数码", "通信服务部", "便利店代办点", "电器", "移动专营店")
AGENT_SHOP_PREFIXES = (
    "恒通",
    "佳信",
    "鑫达",
    "华联",
    "信达",
    "联创",
    "百佳",
    "顺发",
    "兴旺",
    "金桥",
    "海纳",
    "瑞丰",
    "宏泰",
    "永安",
    "新世纪",
    "万家",
    "天骄",
    "汇通",
    "博远",
    "嘉禾",
)

COMPANY_TRADE_NAMES = (
    "华信",
    "中天",
    "恒瑞",
    "新远",
    "金达",
    "博创",
    "海川",
    "正泰",
    "鸿运",
    "同创",
    "富华",
    "德信",
    "锦程",
    "宏图",
    "万通",
    "长荣",
    "苏宁",
    "东方",
    "天成",
    "安泰",
    "瑞祥",
    "高新",
    "汇丰",
    "卓越",
)

# Industry code (contract) → Chinese name suffix of a company in that industry.
INDUSTRY_SUFFIXES: dict[str, str] = {
    "government": "行政服务中心",
    "education": "实验学校",
    "healthcare": "医疗集团",
    "finance": "农村商业银行",
    "manufacturing": "制造有限公司",
    "retail": "商贸有限公司",
    "logistics": "物流有限公司",
    "it_services": "科技有限公司",
    "hospitality": "酒店管理有限公司",
    "agriculture": "农业发展有限公司",
}

# China Mobile number segments; each has 10^8 numbers.
MSISDN_PREFIXES: tuple[int, ...] = (
    134,
    135,
    136,
    137,
    138,
    139,
    147,
    150,
    151,
    152,
    157,
    158,
    159,
    172,
    178,
    182,
    183,
    184,
    187,
    188,
    195,
    197,
    198,
)

# Installed-base brand mix of a Chinese province (rough shares, percent).
HANDSET_BRANDS: tuple[tuple[str, float], ...] = (
    ("Apple", 18.0),
    ("Huawei", 19.0),
    ("vivo", 16.0),
    ("OPPO", 15.0),
    ("Xiaomi", 13.0),
    ("Honor", 12.0),
    ("Samsung", 2.0),
    ("Other", 5.0),
)
