//! A simulated county: the city station, its townships and villages, and the people who come to
//! them (names, ID numbers, phones, addresses, companies).
//!
//! The place names are those of townships and villages around Taiyuan (太原), written from public
//! gazetteers; the weights that decide how busy each station is are invented.

use crate::rng::Rng;
use yizhan_node::NewCase;
use yizhan_node::catalog::ServiceItem;
use yizhan_node::idcard::check_digit;
use yizhan_node::network::Station;
use yizhan_node::station::Tier;

/// The city station's code.
pub const CITY: &str = "C01";

/// The network's name.
pub const NETWORK_NAME: &str = "太原市政务服务网";

/// The city station's name.
pub const CITY_NAME: &str = "太原市政务服务中心";

/// (township, district, region code of the district, villages)
const TOWNSHIPS: [(&str, &str, &str, [&str; 8]); 10] = [
    (
        "北格镇",
        "小店区",
        "140105",
        [
            "北格村",
            "张花村",
            "南畔村",
            "讲武村",
            "黄陵村",
            "南格村",
            "河西村",
            "贾家寨村",
        ],
    ),
    (
        "西温庄乡",
        "小店区",
        "140105",
        [
            "西温庄村",
            "东温庄村",
            "郝家堡村",
            "杨家堡村",
            "殷家堡村",
            "南黑窑村",
            "北黑窑村",
            "高家堡村",
        ],
    ),
    (
        "刘家堡乡",
        "小店区",
        "140105",
        [
            "刘家堡村",
            "贾家堡村",
            "洛阳村",
            "北张村",
            "南张村",
            "郭家堡村",
            "东峰村",
            "中峰村",
        ],
    ),
    (
        "晋祠镇",
        "晋源区",
        "140110",
        [
            "晋祠村",
            "赤桥村",
            "纸房村",
            "花塔村",
            "索村",
            "王郭村",
            "南大寺村",
            "东院村",
        ],
    ),
    (
        "姚村镇",
        "晋源区",
        "140110",
        [
            "姚村",
            "西街村",
            "北邵村",
            "南堰村",
            "大寺村",
            "枣园头村",
            "东庄营村",
            "西寨村",
        ],
    ),
    (
        "清源镇",
        "清徐县",
        "140121",
        [
            "东关村",
            "西关村",
            "南营村",
            "平泉村",
            "西梁泉村",
            "东木庄村",
            "孙家寨村",
            "李家楼村",
        ],
    ),
    (
        "徐沟镇",
        "清徐县",
        "140121",
        [
            "东南坊村",
            "西南坊村",
            "北尚义村",
            "尧城村",
            "王答村",
            "大常村",
            "桥头村",
            "郝村",
        ],
    ),
    (
        "东于镇",
        "清徐县",
        "140121",
        [
            "东于村",
            "西于村",
            "高白村",
            "仁义村",
            "北录树村",
            "韩武村",
            "庞家寨村",
            "梁泉村",
        ],
    ),
    (
        "黄寨镇",
        "阳曲县",
        "140122",
        [
            "黄寨村",
            "北村",
            "河庄村",
            "青龙村",
            "下安村",
            "龙泉村",
            "红沟村",
            "坡子村",
        ],
    ),
    (
        "大盂镇",
        "阳曲县",
        "140122",
        [
            "大盂村",
            "小盂村",
            "上原村",
            "中东青善村",
            "泥屯村",
            "西殿村",
            "罗家庄村",
            "北小店村",
        ],
    ),
];

/// Relative size of each township (its hall and its villages together).
const TOWNSHIP_WEIGHTS: [f64; 10] = [1.6, 1.3, 1.2, 1.1, 0.9, 1.0, 0.95, 0.8, 0.7, 0.6];

/// Share of all intakes at the city hall, at township halls and at village stations (代办).
pub const TIER_SHARE: [(Tier, f64); 3] = [
    (Tier::City, 0.25),
    (Tier::Township, 0.50),
    (Tier::Village, 0.25),
];

/// One station of the county.
#[derive(Debug, Clone)]
pub struct StationInfo {
    /// Station code (C01, T01, V0101 …).
    pub code: String,
    /// Full name.
    pub name: String,
    /// Short name (北格镇, 张花村).
    pub short: String,
    /// Tier.
    pub tier: Tier,
    /// Index of its township (itself for a township, `None` for the city).
    pub township: Option<usize>,
    /// Relative intake volume among the stations of its tier.
    pub weight: f64,
    /// Region code of the district (first six digits of local ID numbers).
    pub region: &'static str,
    /// District or county name.
    pub district: &'static str,
    /// Who records actions at this station.
    pub operator: String,
}

/// The county: stations in a fixed order (the city first, then each township followed by its
/// villages).
#[derive(Debug, Clone)]
pub struct County {
    /// All stations.
    pub stations: Vec<StationInfo>,
}

impl County {
    /// The simulated county.
    pub fn new() -> County {
        let mut stations = vec![StationInfo {
            code: CITY.into(),
            name: CITY_NAME.into(),
            short: "市中心".into(),
            tier: Tier::City,
            township: None,
            weight: 1.0,
            region: "140105",
            district: "小店区",
            operator: "市政务服务中心综合受理窗口".into(),
        }];
        for (t, (town, district, region, villages)) in TOWNSHIPS.iter().enumerate() {
            let t_idx = stations.len();
            stations.push(StationInfo {
                code: format!("T{:02}", t + 1),
                name: format!("{district}{town}便民服务中心"),
                short: (*town).to_string(),
                tier: Tier::Township,
                township: Some(t_idx),
                weight: TOWNSHIP_WEIGHTS[t],
                region,
                district,
                operator: format!("{town}便民服务中心窗口"),
            });
            for (v, village) in villages.iter().enumerate() {
                // Villages differ in size too: 0.5 … 1.5, the same for every seed.
                let weight =
                    TOWNSHIP_WEIGHTS[t] * (0.5 + f64::from((v as u32 * 37 + 11) % 11) / 10.0);
                stations.push(StationInfo {
                    code: format!("V{:02}{:02}", t + 1, v + 1),
                    name: format!("{town}{village}便民服务站"),
                    short: (*village).to_string(),
                    tier: Tier::Village,
                    township: Some(t_idx),
                    weight,
                    region,
                    district,
                    operator: format!("代办员{}", AGENT_NAMES[(t * 8 + v) % AGENT_NAMES.len()]),
                });
            }
        }
        County { stations }
    }

    /// Stations to add to the roster (all but the city), parents before children.
    pub fn roster_stations(&self) -> Vec<Station> {
        self.stations
            .iter()
            .skip(1)
            .map(|s| Station {
                code: s.code.clone(),
                name: s.name.clone(),
                tier: s.tier,
                parent: match s.tier {
                    Tier::Township => CITY.to_string(),
                    _ => s
                        .township
                        .map(|t| self.stations[t].code.clone())
                        .unwrap_or_default(),
                },
            })
            .collect()
    }

    /// Index of a station by code.
    pub fn index_of(&self, code: &str) -> Option<usize> {
        self.stations.iter().position(|s| s.code == code)
    }

    /// Indexes of the stations of one tier.
    pub fn of_tier(&self, tier: Tier) -> Vec<usize> {
        (0..self.stations.len())
            .filter(|i| self.stations[*i].tier == tier)
            .collect()
    }
}

impl Default for County {
    fn default() -> County {
        County::new()
    }
}

const AGENT_NAMES: [&str; 24] = [
    "王秀梅",
    "李建平",
    "张润莲",
    "郭海军",
    "赵丽萍",
    "杨晋生",
    "武俊峰",
    "贾翠英",
    "郝建国",
    "闫红梅",
    "刘保平",
    "白玉兰",
    "任志刚",
    "孙改花",
    "田永强",
    "薛丽娟",
    "侯三喜",
    "温桂英",
    "常永红",
    "乔建军",
    "牛晓燕",
    "申爱萍",
    "霍志明",
    "史红霞",
];

/// Surnames with rough frequencies (national ranking, with Shanxi's common names weighted up).
const SURNAMES: [(&str, f64); 100] = [
    ("王", 7.2),
    ("李", 7.0),
    ("张", 6.8),
    ("刘", 5.4),
    ("陈", 2.5),
    ("杨", 3.0),
    ("赵", 3.0),
    ("黄", 1.0),
    ("周", 1.2),
    ("吴", 1.0),
    ("徐", 1.0),
    ("孙", 1.5),
    ("马", 1.5),
    ("朱", 0.8),
    ("胡", 1.0),
    ("郭", 2.5),
    ("何", 0.5),
    ("高", 1.5),
    ("林", 0.3),
    ("罗", 0.5),
    ("郑", 0.6),
    ("梁", 1.0),
    ("谢", 0.4),
    ("宋", 0.8),
    ("唐", 0.4),
    ("许", 0.5),
    ("韩", 1.0),
    ("冯", 0.8),
    ("邓", 0.3),
    ("曹", 0.7),
    ("彭", 0.3),
    ("曾", 0.2),
    ("肖", 0.3),
    ("田", 0.8),
    ("董", 0.8),
    ("袁", 0.4),
    ("潘", 0.3),
    ("于", 0.5),
    ("蒋", 0.3),
    ("蔡", 0.3),
    ("余", 0.2),
    ("杜", 0.7),
    ("叶", 0.2),
    ("程", 0.5),
    ("苏", 0.5),
    ("魏", 0.8),
    ("吕", 0.6),
    ("丁", 0.4),
    ("任", 1.0),
    ("沈", 0.2),
    ("姚", 0.5),
    ("卢", 0.4),
    ("姜", 0.3),
    ("崔", 0.6),
    ("钟", 0.2),
    ("谭", 0.2),
    ("陆", 0.2),
    ("汪", 0.2),
    ("范", 0.5),
    ("金", 0.2),
    ("石", 0.5),
    ("廖", 0.1),
    ("贾", 1.2),
    ("夏", 0.2),
    ("韦", 0.1),
    ("付", 0.4),
    ("方", 0.2),
    ("白", 0.9),
    ("邹", 0.1),
    ("孟", 0.5),
    ("熊", 0.1),
    ("秦", 0.5),
    ("邱", 0.1),
    ("江", 0.1),
    ("尹", 0.3),
    ("薛", 0.7),
    ("闫", 1.0),
    ("段", 0.5),
    ("雷", 0.3),
    ("侯", 0.6),
    ("龙", 0.1),
    ("史", 0.6),
    ("陶", 0.2),
    ("黎", 0.1),
    ("贺", 0.4),
    ("顾", 0.1),
    ("毛", 0.2),
    ("郝", 1.0),
    ("龚", 0.1),
    ("邵", 0.2),
    ("武", 1.2),
    ("温", 0.6),
    ("常", 0.5),
    ("康", 0.4),
    ("乔", 0.5),
    ("牛", 0.4),
    ("申", 0.4),
    ("裴", 0.3),
    ("霍", 0.3),
    ("岳", 0.3),
];

const MALE_NAMES: [&str; 40] = [
    "建国", "建军", "国强", "志强", "卫东", "海涛", "建华", "晓东", "伟", "强", "磊", "军", "勇",
    "杰", "涛", "斌", "超", "明", "刚", "平", "鹏", "浩", "宇", "俊杰", "子豪", "浩然", "文博",
    "宇航", "二虎", "福生", "根生", "满仓", "保平", "建平", "永强", "红军", "志刚", "晋生", "晋平",
    "三喜",
];

const FEMALE_NAMES: [&str; 40] = [
    "秀英", "桂英", "秀兰", "玉兰", "桂兰", "秀珍", "凤英", "玉梅", "丽娟", "美玲", "芳", "娜",
    "敏", "静", "丽", "艳", "娟", "霞", "燕", "婷", "雪梅", "海燕", "晓红", "红梅", "春花", "金凤",
    "翠花", "欣怡", "梓涵", "雨欣", "子涵", "诗琪", "丽萍", "爱萍", "瑞芳", "晋芳", "润梅", "改花",
    "变英", "粉莲",
];

const FIRM_WORDS: [&str; 20] = [
    "恒达", "鑫源", "晋阳", "龙城", "汾河", "华泰", "宏远", "盛世", "瑞丰", "金鼎", "德昌", "永兴",
    "顺通", "佳禾", "晋宝", "天宇", "东方", "万和", "广源", "益民",
];

const TRADES: [&str; 12] = [
    "商贸",
    "建筑工程",
    "餐饮管理",
    "物流",
    "科技",
    "房地产开发",
    "农业开发",
    "醋业",
    "煤业",
    "装饰工程",
    "医药",
    "文化传媒",
];

const ROADS: [&str; 10] = [
    "长风街",
    "并州路",
    "亲贤北街",
    "平阳路",
    "学府街",
    "体育路",
    "许坦东街",
    "坞城路",
    "南内环街",
    "龙城大街",
];

/// Items whose applicant is usually a company rather than a person.
const COMPANY_ITEMS: [&str; 10] = [
    "CT-002", "CT-003", "CT-004", "CT-005", "CT-006", "CT-007", "CT-010", "CT-011", "CT-012",
    "CT-014",
];

fn surname_weights() -> Vec<f64> {
    SURNAMES.iter().map(|(_, w)| *w).collect()
}

/// A person's name.
pub fn person_name(rng: &mut Rng, weights: &[f64]) -> String {
    let surname = SURNAMES[rng.weighted(weights)].0;
    let given = if rng.chance(0.5) {
        rng.pick(&MALE_NAMES)
    } else {
        rng.pick(&FEMALE_NAMES)
    };
    format!("{surname}{given}")
}

/// A valid 18-character resident ID number from a district.
pub fn id_number(rng: &mut Rng, region: &str) -> String {
    let year = 1940 + rng.range(0, 65);
    let month = rng.range(1, 12);
    let day = rng.range(1, 28);
    let seq = rng.range(1, 999);
    let first17 = format!("{region}{year:04}{month:02}{day:02}{seq:03}");
    let check = check_digit(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// A mobile phone number.
pub fn phone(rng: &mut Rng) -> String {
    let prefix = rng.pick(&[
        "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "177", "183", "186",
        "188", "199",
    ]);
    format!("{prefix}{:08}", rng.next_u64() % 100_000_000)
}

/// Makes applicants for intakes at the stations of a county.
#[derive(Debug)]
pub struct People {
    weights: Vec<f64>,
}

impl Default for People {
    fn default() -> People {
        People::new()
    }
}

impl People {
    /// A generator of applicants.
    pub fn new() -> People {
        People {
            weights: surname_weights(),
        }
    }

    /// The intake form for one applicant at `station` for `item`.
    pub fn new_case(
        &self,
        rng: &mut Rng,
        county: &County,
        station: usize,
        item: &ServiceItem,
    ) -> NewCase {
        let st = &county.stations[station];
        let company = COMPANY_ITEMS.contains(&item.code.as_str()) && rng.chance(0.85);
        let applicant_name = if company {
            format!(
                "太原市{}{}{}",
                rng.pick(&FIRM_WORDS),
                rng.pick(&TRADES),
                if rng.chance(0.9) {
                    "有限公司"
                } else {
                    "股份有限公司"
                }
            )
        } else {
            person_name(rng, &self.weights)
        };
        let id_number = if !company && rng.chance(0.9) {
            id_number(rng, st.region)
        } else {
            String::new()
        };
        let phone = if rng.chance(0.95) {
            phone(rng)
        } else {
            String::new()
        };
        let address = match st.tier {
            Tier::City => format!(
                "太原市{}{}{}号",
                st.district,
                rng.pick(&ROADS),
                rng.range(1, 300)
            ),
            Tier::Township => {
                // A walk-in lives in one of the township's villages.
                let v = county
                    .stations
                    .iter()
                    .filter(|s| s.tier == Tier::Village && s.township == Some(station))
                    .map(|s| s.short.as_str())
                    .collect::<Vec<_>>();
                let village = if v.is_empty() { "" } else { *rng.pick(&v) };
                format!(
                    "{}{}{}{}号",
                    st.district,
                    st.short,
                    village,
                    rng.range(1, 200)
                )
            }
            Tier::Village => {
                let town = st
                    .township
                    .map_or("", |t| county.stations[t].short.as_str());
                format!("{}{}{}{}号", st.district, town, st.short, rng.range(1, 200))
            }
        };
        let delegated = st.tier == Tier::Village;
        let (entrustment, handed_over) = if delegated {
            let mut handed = item.materials.clone();
            if handed.len() > 1 && rng.chance(0.2) {
                handed.pop();
            }
            (rng.chance(0.95), handed)
        } else {
            (false, Vec::new())
        };
        NewCase {
            item_code: item.code.clone(),
            applicant_name,
            id_number,
            phone,
            address,
            delegated,
            entrustment,
            handed_over,
            operator: st.operator.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yizhan_node::idcard::validate_id_number;

    #[test]
    fn county_shape() {
        let c = County::new();
        assert_eq!(c.stations.len(), 1 + 10 + 80);
        assert_eq!(c.of_tier(Tier::Township).len(), 10);
        assert_eq!(c.of_tier(Tier::Village).len(), 80);
        assert_eq!(c.roster_stations().len(), 90);
        let mut codes: Vec<_> = c.stations.iter().map(|s| s.code.clone()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 91);
    }

    #[test]
    fn id_numbers_validate() {
        let mut r = Rng::new(3);
        for _ in 0..200 {
            let id = id_number(&mut r, "140105");
            assert!(validate_id_number(&id).is_ok(), "{id}");
        }
    }
}
