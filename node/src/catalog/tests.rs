use super::*;

const HEADER: &str =
    "code,name,kind,legal_days,promised_days,materials,tier,departments,conditions\n";

fn item(code: &str, kind: CaseKind, legal: u32, promised: u32) -> ServiceItem {
    ServiceItem {
        code: code.to_string(),
        name: format!("测试事项{code}"),
        kind,
        legal_days: legal,
        promised_days: promised,
        materials: vec!["居民身份证".to_string(), "申请表".to_string()],
        tier: Tier::Township,
        departments: Vec::new(),
        conditions: String::new(),
        retired: false,
    }
}

fn rows(result: Result<Catalog, CatalogError>) -> Vec<RowError> {
    match result {
        Err(CatalogError::Rows(rows)) => rows,
        other => panic!("expected row errors, got {other:?}"),
    }
}

/// Asserts that exactly one error names `row` and `field`, and that its message contains `text`.
fn has(errors: &[RowError], row: usize, field: &str, text: &str) {
    let found: Vec<&RowError> = errors
        .iter()
        .filter(|e| e.row == row && e.field == field)
        .collect();
    assert_eq!(found.len(), 1, "row {row} field {field} in {errors:?}");
    assert!(
        found[0].message().contains(text),
        "{:?} does not contain {text:?}",
        found[0].message()
    );
}

fn csv(body: &str) -> Result<Catalog, CatalogError> {
    Catalog::from_csv(format!("{HEADER}{body}").as_bytes())
}

#[test]
fn default_catalog_parses_and_covers_the_tiers() {
    let parsed = Catalog::from_json(DEFAULT_CATALOG_JSON.as_bytes());
    let catalog = match parsed {
        Ok(c) => c,
        Err(e) => panic!("default catalog does not parse: {e}"),
    };
    assert!(catalog.len() >= 30, "{} items", catalog.len());
    for tier in [Tier::Village, Tier::Township, Tier::City] {
        assert!(
            catalog.items().filter(|i| i.tier == tier).count() >= 5,
            "too few {tier} items"
        );
    }
    for kind in [CaseKind::Instant, CaseKind::Promised, CaseKind::Consult] {
        assert!(catalog.items().any(|i| i.kind == kind), "no {kind:?} item");
    }
    assert!(
        catalog.items().filter(|i| i.departments.len() >= 2).count() >= 3,
        "fewer than 3 parallel-approval items"
    );
    assert!(catalog.items().all(|i| !i.conditions.is_empty()));
    assert_eq!(Catalog::default_catalog(), catalog);
    assert!(catalog.get("TS-001").is_some());
}

#[test]
fn default_lists_survive_csv() {
    // CSV splits lists on `;` and `；`, so default entries must not contain them.
    for item in Catalog::default_catalog().items() {
        for entry in item.materials.iter().chain(&item.departments) {
            assert!(!entry.contains([';', '；']), "{}: {entry}", item.code);
        }
    }
}

#[test]
fn json_round_trip() {
    let catalog = Catalog::default_catalog();
    let json = catalog.to_json();
    let again = Catalog::from_json(json.as_bytes()).expect("round trip");
    assert_eq!(again, catalog);
    assert!(json.starts_with('['));
    assert!(json.contains("城乡居民基本医疗保险参保登记"));
}

#[test]
fn csv_round_trip() {
    let catalog = Catalog::default_catalog();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_COLUMNS).expect("header");
    for i in catalog.items() {
        writer
            .write_record([
                i.code.as_str(),
                i.name.as_str(),
                i.kind.label_zh(),
                &i.legal_days.to_string(),
                &i.promised_days.to_string(),
                &i.materials.join("；"),
                i.tier.as_str(),
                &i.departments.join("；"),
                i.conditions.as_str(),
                if i.retired { "是" } else { "" },
            ])
            .expect("record");
    }
    let bytes = writer.into_inner().expect("flush");
    let again = Catalog::from_csv(&bytes).expect("csv parses");
    assert_eq!(again, catalog);
    assert_eq!(Catalog::parse(&bytes, None).expect("sniffed"), catalog);
    assert_eq!(
        Catalog::parse(&bytes, Some(".CSV")).expect("hinted"),
        catalog
    );
}

#[test]
fn csv_accepts_chinese_names_separators_bom_and_any_column_order() {
    let text = "\u{feff}tier,code,name,kind,legal_days,promised_days,materials\n\
                乡镇, TS-9 ,低保申请,承诺件,30,20,申请书;居民身份证；户口簿；营业执照正、副本\n\
                村,VL-9,政策咨询,咨询件,0,0,\n\
                市,CT-9,营业执照,即办件,1,0,居民身份证\n";
    let catalog = Catalog::from_csv(text.as_bytes()).expect("parses");
    let ts = catalog.get("TS-9").expect("TS-9");
    assert_eq!(ts.tier, Tier::Township);
    assert_eq!(ts.kind, CaseKind::Promised);
    assert_eq!(
        ts.materials,
        ["申请书", "居民身份证", "户口簿", "营业执照正、副本"]
    );
    assert!(ts.departments.is_empty());
    assert_eq!(catalog.get("VL-9").map(|i| i.tier), Some(Tier::Village));
    assert_eq!(catalog.get("CT-9").map(|i| i.kind), Some(CaseKind::Instant));
}

#[test]
fn json_conditions_and_departments_are_optional() {
    let json = r#"[{"code":"A-1","name":"事项","kind":"instant","legal_days":0,
        "promised_days":0,"materials":["居民身份证"],"tier":"township"}]"#;
    let catalog = Catalog::from_json(json.as_bytes()).expect("parses");
    let a = catalog.get("A-1").expect("A-1");
    assert!(a.departments.is_empty());
    assert!(a.conditions.is_empty());
}

#[test]
fn from_items_validates() {
    assert_eq!(
        Catalog::from_items(vec![item("A-1", CaseKind::Promised, 20, 5)])
            .expect("valid")
            .len(),
        1
    );
    let errors = rows(Catalog::from_items(vec![
        item("A-1", CaseKind::Promised, 20, 5),
        item("A-1", CaseKind::Promised, 20, 30),
    ]));
    has(&errors, 2, "code", "duplicate of row 1");
    has(&errors, 2, "promised_days", "30 is more than legal_days 20");
    assert!(matches!(
        Catalog::from_items(Vec::new()),
        Err(CatalogError::Empty)
    ));
}

#[test]
fn retired_items_read_from_json_and_csv_and_print_only_when_set() {
    let json = r#"[{"code":"A-1","name":"甲","kind":"instant","legal_days":0,
        "promised_days":0,"materials":[],"tier":"city","retired":true},
        {"code":"A-2","name":"乙","kind":"instant","legal_days":0,
        "promised_days":0,"materials":[],"tier":"city"}]"#;
    let catalog = Catalog::from_json(json.as_bytes()).expect("parses");
    assert!(catalog.get("A-1").expect("A-1").retired);
    assert!(!catalog.get("A-2").expect("A-2").retired);
    let printed = catalog.to_json();
    assert_eq!(printed.matches("retired").count(), 1, "{printed}");
    assert_eq!(
        Catalog::from_json(printed.as_bytes()).expect("again"),
        catalog
    );

    let csv = "code,name,kind,legal_days,promised_days,materials,tier,retired\n\
               B-1,甲,instant,0,0,,city,是\n\
               B-2,乙,instant,0,0,,city,\n\
               B-3,丙,instant,0,0,,city,maybe\n";
    let errors = rows(Catalog::from_csv(csv.as_bytes()));
    has(&errors, 3, "retired", "not yes or no");
    let good = csv.replace("maybe", "no");
    let catalog = Catalog::from_csv(good.as_bytes()).expect("parses");
    assert!(catalog.get("B-1").expect("B-1").retired);
    assert!(!catalog.get("B-3").expect("B-3").retired);

    let errors = rows(Catalog::from_json(
        r#"[{"code":"A-1","name":"甲","kind":"instant","legal_days":0,
        "promised_days":0,"materials":[],"tier":"city","retired":"yes"}]"#
            .as_bytes(),
    ));
    has(&errors, 1, "retired", "expected a boolean");
}

#[test]
fn editing_one_item_is_validated_and_keeps_the_rest() {
    let catalog = Catalog::default_catalog();
    let mut edited = catalog.get("TS-006").expect("TS-006").clone();
    edited.promised_days = 7;
    let after = catalog.with_item(edited.clone()).expect("valid edit");
    assert_eq!(after.len(), catalog.len());
    assert_eq!(after.get("TS-006"), Some(&edited));

    let mut bad = edited.clone();
    bad.name = "  ".into();
    bad.promised_days = bad.legal_days + 1;
    let problems = Catalog::check_item(&bad);
    let fields: Vec<&str> = problems.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "promised_days"]);
    assert_eq!(problems[0].problem, RowProblem::Empty);
    assert!(matches!(catalog.with_item(bad), Err(CatalogError::Rows(_))));
    assert!(Catalog::check_item(&edited).is_empty());

    let mut new = edited;
    new.code = "NEW-1".into();
    assert_eq!(
        catalog.with_item(new).expect("added").len(),
        catalog.len() + 1
    );
    let fewer = catalog.without("TS-006").expect("removed");
    assert_eq!(fewer.len(), catalog.len() - 1);
    assert!(fewer.get("TS-006").is_none());
    let one = Catalog::from_items(vec![item("A-1", CaseKind::Promised, 20, 5)]).expect("one");
    assert!(matches!(one.without("A-1"), Err(CatalogError::Empty)));
}

/// Each bad cell of a file is named by its row and field, with words of its problem, and nothing
/// else is reported: CSV files with bad codes, names, kinds, tiers and day counts, and a JSON file
/// with cells of the wrong type.
#[test]
fn bad_cells_are_named_by_row_and_field() {
    let long_code = "C".repeat(33);
    let long_name = "名".repeat(101);
    let json = r#"[
        {"code":"A-1","name":"好","kind":"promised","legal_days":20,"promised_days":5,
         "materials":["申请表"],"tier":"city","departments":[]},
        {"code":7,"name":"甲","kind":"promised","legal_days":"20","promised_days":-3,
         "materials":"申请表","tier":"city","departments":[1]},
        "not an object",
        {"code":"A-1","name":"乙","kind":"即办件","legal_days":0,"promised_days":2.5,
         "materials":[],"tier":"市","condition":"typo"},
        {"name":"丙","kind":"instant","legal_days":0,"promised_days":0,"materials":[],
         "tier":"city"}
    ]"#;
    type Expected<'a> = &'a [(usize, &'a str, &'a str)];
    let files: [(&str, Result<Catalog, CatalogError>, Expected<'_>); 5] = [
        (
            "codes",
            csv(&format!(
                ",空编码,instant,0,0,居民身份证,township,,\n\
                 \"A 1\",空格,instant,0,0,居民身份证,township,,\n\
                 {long_code},过长,instant,0,0,居民身份证,township,,\n\
                 B-1,甲,instant,0,0,居民身份证,township,,\n\
                 B-1,乙,instant,0,0,居民身份证,township,,\n"
            )),
            &[
                (1, "code", "empty"),
                (2, "code", "whitespace"),
                (3, "code", "longer than 32"),
                (5, "code", "duplicate of row 4"),
            ],
        ),
        (
            "names",
            csv(&format!(
                "A-1,,instant,0,0,居民身份证,township,,\n\
                 A-2,{long_name},instant,0,0,居民身份证,township,,\n"
            )),
            &[(1, "name", "empty"), (2, "name", "longer than 100")],
        ),
        (
            "kinds and tiers",
            csv("A-1,甲,urgent,0,0,居民身份证,township,,\n\
                 A-2,乙,instant,0,0,居民身份证,province,,\n\
                 A-3,丙,,0,0,居民身份证,,,\n"),
            &[
                (1, "kind", "unknown kind \"urgent\""),
                (2, "tier", "unknown tier \"province\""),
                (3, "kind", "empty"),
                (3, "tier", "empty"),
            ],
        ),
        (
            "days",
            csv("A-1,甲,promised,twenty,5,居民身份证,township,,\n\
                 A-2,乙,promised,20,-1,居民身份证,township,,\n\
                 A-3,丙,promised,20,30,居民身份证,township,,\n\
                 A-4,丁,instant,1,1,居民身份证,township,,\n\
                 A-5,戊,promised,20,0,居民身份证,township,,\n\
                 A-6,己,promised,20,5,,township,,\n\
                 A-7,庚,promised,366,5,居民身份证,township,,\n\
                 A-8,辛,promised,2.5,1,居民身份证,township,,\n\
                 A-9,壬,promised,99999999999999999999,1,居民身份证,township,,\n"),
            &[
                (1, "legal_days", "not a whole number"),
                (2, "promised_days", "-1 is negative"),
                (3, "promised_days", "30 is more than legal_days 20"),
                (4, "promised_days", "instant"),
                (5, "promised_days", "promised item"),
                (6, "materials", "empty"),
                (7, "legal_days", "366 is more than 365"),
                (8, "legal_days", "not a whole number"),
                (9, "legal_days", "too large"),
            ],
        ),
        (
            "JSON",
            Catalog::from_json(json.as_bytes()),
            &[
                (2, "code", "expected a string, found a number"),
                (2, "legal_days", "expected a number, found a string"),
                (2, "promised_days", "-3 is negative"),
                (2, "materials", "expected an array"),
                (2, "departments", "entry 1"),
                (3, "row", "expected an object"),
                (4, "code", "duplicate of row 1"),
                (4, "promised_days", "not a whole number"),
                (4, "condition", "not a known field"),
                (5, "code", "missing"),
            ],
        ),
    ];
    for (what, result, expected) in files {
        let errors = rows(result);
        for &(row, field, text) in expected {
            has(&errors, row, field, text);
        }
        assert_eq!(errors.len(), expected.len(), "{what}: {errors:?}");
    }
}

/// The limits are inclusive: a code of 32 characters, a name of 100 and 365 legal days are
/// accepted, and consult items need no materials.
#[test]
fn values_at_the_limits_are_accepted() {
    for body in [
        format!("{},甲,instant,0,0,居民身份证,city,,\n", "C".repeat(32)),
        format!("A-1,{},instant,0,0,居民身份证,city,,\n", "名".repeat(100)),
        "A-1,甲,promised,365,5,居民身份证,city,,\nA-2,乙,consult,0,0,,city,,\n".to_string(),
    ] {
        assert!(csv(&body).is_ok(), "{body}");
    }
}

#[test]
fn duplicate_departments_are_refused() {
    let errors = rows(csv("A-1,甲,promised,20,5,申请表,city,住建局;住建局,\n"));
    has(&errors, 1, "departments", "listed twice");
}

#[test]
fn all_bad_rows_are_reported_and_nothing_is_imported() {
    let result = csv("A-1,好,promised,20,5,申请表,city,,\n\
         A-2,,promised,20,5,申请表,city,,\n\
         A-3,好,promised,20,5,申请表,city,,\n\
         A-4,坏,promised,10,15,申请表,village,,\n\
         A-5,坏,nope,x,0,申请表,nowhere,,\n");
    let errors = match result {
        Err(e @ CatalogError::Rows(_)) => {
            let text = e.to_string();
            assert!(text.contains("row 4 field promised_days: 15 is more than legal_days 10"));
            rows(Err(e))
        }
        other => panic!("expected row errors, got {other:?}"),
    };
    let bad_rows: std::collections::BTreeSet<usize> = errors.iter().map(|e| e.row).collect();
    assert_eq!(bad_rows.into_iter().collect::<Vec<_>>(), [2, 4, 5]);
    has(&errors, 5, "kind", "nope");
    has(&errors, 5, "legal_days", "\"x\"");
    has(&errors, 5, "tier", "nowhere");
}

/// Issue #11: a file of thousands of bad rows printed every problem in one line of millions
/// of characters.
#[test]
fn a_message_lists_the_first_problems_and_counts_the_rest() {
    let body: String = (1..=2_000)
        .map(|i| format!("A-{i},,promised,20,5,申请表,city,,\n"))
        .collect();
    let e = csv(&body).expect_err("every row lacks a name");
    let text = e.to_string();
    assert!(
        text.starts_with("catalog has 2000 bad row(s): row 1 field name"),
        "{text}"
    );
    assert!(text.ends_with("; … and 1995 more"), "{text}");
    assert!(text.len() < 600, "{} characters", text.len());
    assert_eq!(rows(Err(e)).len(), 2_000, "the data keeps every problem");
}

/// Issue #11: a catalog file of any size was read whole and accepted.
#[test]
fn files_and_item_counts_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.csv");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(MAX_FILE_BYTES + 1).expect("a sparse file");
    assert!(matches!(
        Catalog::read_file(&big),
        Err(CatalogError::TooLarge { bytes, max: MAX_FILE_BYTES }) if bytes == MAX_FILE_BYTES + 1
    ));
    let many: String = (0..=MAX_ITEMS)
        .map(|i| format!("A-{i},好,promised,20,5,申请表,city,,\n"))
        .collect();
    let path = dir.path().join("many.csv");
    std::fs::write(&path, format!("{}\n{many}", CSV_COLUMNS[..9].join(","))).expect("write");
    let e = Catalog::read_file(&path).expect_err("too many");
    assert!(
        matches!(e, CatalogError::TooManyItems { max: MAX_ITEMS, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "catalog file has more than {MAX_ITEMS} items ({} or more)",
            MAX_ITEMS + 1
        )
    );
    let json = format!("[{}]", vec![r#"{"code":"A"}"#; MAX_ITEMS + 1].join(","));
    assert!(matches!(
        Catalog::from_json(json.as_bytes()),
        Err(CatalogError::TooManyItems { found, .. }) if found == MAX_ITEMS + 1
    ));
    let missing = dir.path().join("missing.csv");
    assert!(matches!(
        Catalog::read_file(&missing),
        Err(CatalogError::Io { .. })
    ));
    let ok = dir.path().join("ok.json");
    std::fs::write(&ok, Catalog::default_catalog().to_json()).expect("write");
    assert_eq!(
        Catalog::read_file(&ok).expect("reads"),
        Catalog::default_catalog()
    );
}

#[test]
fn syntax_errors() {
    match Catalog::from_json(b"[{\"code\": \"A-1\",}]") {
        Err(CatalogError::Syntax { format, problem }) => {
            assert_eq!(format, "JSON");
            assert!(problem.to_string().contains("line 1 column"), "{problem}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match Catalog::from_json(b"{\"code\": \"A-1\"}") {
        Err(CatalogError::Syntax { problem, .. }) => {
            assert_eq!(
                problem.to_string(),
                "expected an array of items, found an object"
            )
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match Catalog::from_csv(b"code,name,kind,legal_days,materials,tier\nA-1,x,instant,0,a,city\n") {
        Err(CatalogError::Syntax { format, problem }) => {
            assert_eq!(format, "CSV");
            assert_eq!(
                problem.to_string(),
                "the header has no column \"promised_days\""
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match Catalog::from_csv(b"code,name,kind,legal_days,promised_days,materials,tier,remark\n") {
        Err(CatalogError::Syntax { problem, .. }) => assert_eq!(
            problem.to_string(),
            "unknown column \"remark\" in the header (expected \
             code,name,kind,legal_days,promised_days,materials,tier,departments,conditions,\
             retired)"
        ),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    // GBK bytes for 城乡 are not UTF-8.
    let mut gbk = HEADER.as_bytes().to_vec();
    gbk.extend_from_slice(b"A-1,\xb3\xc7\xcf\xe7,instant,0,0,a,city,,\n");
    match Catalog::from_csv(&gbk) {
        Err(CatalogError::Syntax { problem, .. }) => assert_eq!(
            problem.to_string(),
            "row 1: line 2 is not UTF-8 (save the file as UTF-8, not GBK)"
        ),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn empty_files() {
    assert!(matches!(
        Catalog::from_json(b"[]"),
        Err(CatalogError::Empty)
    ));
    assert!(matches!(
        Catalog::from_json(b"  \n"),
        Err(CatalogError::Empty)
    ));
    assert!(matches!(Catalog::from_csv(b""), Err(CatalogError::Empty)));
    assert!(matches!(
        Catalog::from_csv(HEADER.as_bytes()),
        Err(CatalogError::Empty)
    ));
    assert!(matches!(
        Catalog::parse(b" [ ] ", None),
        Err(CatalogError::Empty)
    ));
}

#[test]
fn parse_picks_the_format() {
    let json = Catalog::default_catalog().to_json();
    assert!(Catalog::parse(format!("\n  {json}").as_bytes(), None).is_ok());
    assert!(Catalog::parse(json.as_bytes(), Some("JSON")).is_ok());
    // An explicit hint wins over sniffing.
    assert!(matches!(
        Catalog::parse(json.as_bytes(), Some("csv")),
        Err(CatalogError::Syntax { format: "CSV", .. })
    ));
}

#[test]
fn search_matches_code_and_name() {
    let catalog = Catalog::default_catalog();
    let hits = catalog.search("医疗保险");
    assert!(hits.iter().any(|i| i.code == "TS-001"));
    assert!(hits.iter().all(|i| i.name.contains("医疗保险")));
    let hits = catalog.search("ts-00");
    assert!(hits.len() >= 9 && hits.iter().all(|i| i.code.starts_with("TS-00")));
    assert_eq!(
        catalog.search("ct-001").first().map(|i| i.code.as_str()),
        Some("CT-001")
    );
    assert_eq!(catalog.search("").len(), catalog.len());
    assert!(catalog.search("不存在的事项").is_empty());
}
