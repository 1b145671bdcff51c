//! Unit tests of the metadata model: identifiers, schema JSON, table checks.

use super::*;

#[test]
fn identifiers_follow_the_schema_pattern() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("height", &[], "height"),
        ("Byggår", &[], "Byggar"),
        ("Höjd (m)", &[], "Hojd_m"),
        ("1st floor", &[], "_1st_floor"),
        ("", &[], "property"),
        ("---", &[], "property"),
        ("a  b", &[], "a_b"),
        ("_x", &[], "_x"),
        ("höjd", &["hojd"], "hojd_2"),
        ("höjd", &["hojd", "hojd_2"], "hojd_3"),
        ("名前", &[], "property"),
    ];
    for (name, taken, want) in cases {
        let taken: Vec<String> = taken.iter().map(|s| (*s).to_owned()).collect();
        let got = Schema::identifier(name, &taken);
        assert_eq!(&got, want, "{name:?}");
        assert!(is_identifier(&got), "{got:?}");
    }
}

fn schema() -> Schema {
    Schema {
        id: "s".into(),
        class_id: "c".into(),
        properties: vec![
            PropertyDef {
                id: "b".into(),
                name: "b".into(),
                ty: PropertyType::Boolean,
                nullable: true,
            },
            PropertyDef {
                id: "e".into(),
                name: "e".into(),
                ty: PropertyType::Enum {
                    enum_id: "kind".into(),
                },
                nullable: true,
            },
            PropertyDef {
                id: "f".into(),
                name: "Höjd".into(),
                ty: PropertyType::Float64,
                nullable: false,
            },
        ],
        enums: vec![EnumDef {
            id: "kind".into(),
            values: vec!["null".into(), "house".into()],
        }],
    }
}

#[test]
fn nullable_boolean_is_declared_as_an_enum_with_no_data() {
    let json = schema().to_json();
    let b = &json["classes"]["c"]["properties"]["b"];
    assert_eq!(b["type"], "ENUM");
    assert_eq!(b["enumType"], NULLABLE_BOOLEAN_ENUM);
    assert_eq!(b["noData"], "null");
    assert_eq!(b["required"], false);
    assert_eq!(json["enums"][NULLABLE_BOOLEAN_ENUM]["valueType"], "UINT8");
}

#[test]
fn nullable_enum_gets_a_null_value_that_does_not_clash() {
    let s = schema();
    assert_eq!(s.enum_null("kind"), Some(("null_1".into(), 2)));
    let json = s.to_json();
    assert_eq!(json["classes"]["c"]["properties"]["e"]["noData"], "null_1");
    assert_eq!(
        json["enums"]["kind"]["values"][2],
        json!({"name": "null_1", "value": 2})
    );
    let f = &json["classes"]["c"]["properties"]["f"];
    assert_eq!(f["required"], true);
    assert!(f.get("noData").is_none());
    assert_eq!(f["name"], "Höjd");
}

#[test]
fn rejects_schema_with_bad_ids_or_unknown_enum() {
    let mut s = schema();
    s.properties[0].id = "a b".into();
    assert!(matches!(s.validate(), Err(Error::BadInput(m)) if m.contains("\"a b\"")));
    let mut s = schema();
    s.enums.clear();
    assert!(matches!(s.validate(), Err(Error::BadInput(m)) if m.contains("kind")));
    assert!(schema().validate().is_ok());
}

#[test]
fn rejects_tables_that_do_not_fit_the_schema() {
    let s = schema();
    let good = PropertyTable {
        count: 2,
        columns: vec![
            Values::Boolean(vec![Some(true), None]),
            Values::Enum(vec![Some(1), None]),
            Values::Float64(vec![Some(1.0), Some(2.0)]),
        ],
    };
    assert!(good.check(&s).is_ok());
    let cases: Vec<(PropertyTable, &str)> = vec![
        (
            PropertyTable {
                count: 0,
                columns: vec![],
            },
            "no rows",
        ),
        (
            PropertyTable {
                count: 2,
                columns: good.columns[..2].to_vec(),
            },
            "2 columns",
        ),
        (
            PropertyTable {
                count: 2,
                columns: vec![
                    good.columns[0].clone(),
                    good.columns[1].clone(),
                    Values::Int32(vec![Some(1), Some(2)]),
                ],
            },
            "declared Float64",
        ),
        (
            PropertyTable {
                count: 2,
                columns: vec![
                    good.columns[0].clone(),
                    good.columns[1].clone(),
                    Values::Float64(vec![Some(1.0), None]),
                ],
            },
            "not nullable",
        ),
        (
            PropertyTable {
                count: 2,
                columns: vec![
                    good.columns[0].clone(),
                    Values::Enum(vec![Some(2), None]),
                    good.columns[2].clone(),
                ],
            },
            "only 2 values",
        ),
        (
            PropertyTable {
                count: 3,
                columns: good.columns.clone(),
            },
            "has 2 values but the table has 3 rows",
        ),
    ];
    for (table, want) in cases {
        match table.check(&s) {
            Err(Error::BadInput(m)) => {
                assert!(m.contains(want), "{m:?} should contain {want:?}")
            }
            other => panic!("expected BadInput containing {want:?}, got {other:?}"),
        }
    }
}

#[test]
fn rejects_real_values_equal_to_no_data() {
    let s = Schema {
        id: "s".into(),
        class_id: "c".into(),
        properties: vec![PropertyDef {
            id: "n".into(),
            name: "n".into(),
            ty: PropertyType::Int32,
            nullable: true,
        }],
        enums: vec![],
    };
    let t = PropertyTable {
        count: 1,
        columns: vec![Values::Int32(vec![Some(i32::MIN)])],
    };
    assert!(matches!(t.check(&s), Err(Error::BadInput(m)) if m.contains("noData")));
}
