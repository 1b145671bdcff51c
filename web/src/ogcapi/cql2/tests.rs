//! Table tests of both readers, kept together because the last one checks that the two encodings give the
//! same tree.

use super::*;
use serde_json::json;

fn prop(p: &str) -> Operand {
    Operand::Property(p.into())
}

#[test]
fn parses_text_filters() {
    let cases: &[(&str, Expr)] = &[
        (
            "a = 'x'",
            Expr::Compare(CmpOp::Eq, prop("a"), Operand::Str("x".into())),
        ),
        (
            "\"my prop\" <> 'it''s'",
            Expr::Compare(CmpOp::Ne, prop("my prop"), Operand::Str("it's".into())),
        ),
        (
            "a < 1 AND (b > 2 OR NOT c IS NULL)",
            Expr::And(vec![
                Expr::Compare(CmpOp::Lt, prop("a"), Operand::Num(1.0)),
                Expr::Or(vec![
                    Expr::Compare(CmpOp::Gt, prop("b"), Operand::Num(2.0)),
                    Expr::Not(Box::new(Expr::IsNull(prop("c"), false))),
                ]),
            ]),
        ),
        (
            "a NOT LIKE 'Bo%'",
            Expr::Like(prop("a"), Operand::Str("Bo%".into()), true),
        ),
        (
            "a between -1.5 and 2e3",
            Expr::Between(prop("a"), Operand::Num(-1.5), Operand::Num(2000.0), false),
        ),
        (
            "a IN ('x', 'y')",
            Expr::In(
                prop("a"),
                vec![Operand::Str("x".into()), Operand::Str("y".into())],
                false,
            ),
        ),
        ("a IS NOT NULL", Expr::IsNull(prop("a"), true)),
        ("TRUE", Expr::Bool(true)),
    ];
    for (text, want) in cases {
        assert_eq!(parse_text(text).as_ref(), Ok(want), "{text}");
    }
}

#[test]
fn parses_geometry_and_time_literals() {
    let e = parse_text("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))").unwrap();
    let Expr::Spatial(SpatialOp::Intersects, _, Operand::Geometry(g)) = e else {
        panic!("{e:?}")
    };
    assert_eq!(g.wkt(false), "POLYGON((0 0,1 0,1 1,0 0))");
    assert_eq!(g.wkt(true), "POLYGON((0 0,0 1,1 1,0 0))");
    let e = parse_text("s_within(geometry, BBOX(1,2,3,4))").unwrap();
    let Expr::Spatial(SpatialOp::Within, _, Operand::Geometry(g)) = e else {
        panic!("{e:?}")
    };
    assert_eq!(g.wkt(false), "POLYGON((1 2,3 2,3 4,1 4,1 2))");
    let e = parse_text("T_AFTER(d, DATE('2020-01-02'))").unwrap();
    assert!(matches!(
        e,
        Expr::Temporal(TemporalOp::After, _, Operand::Date(_))
    ));
    let e = parse_text("T_INTERSECTS(d, INTERVAL('2020-01-01', '..'))").unwrap();
    assert!(matches!(
        e,
        Expr::Temporal(_, _, Operand::Interval(Some(_), None))
    ));
}

#[test]
fn rejects_malformed_text() {
    for bad in [
        "a =",
        "a = 'open",
        "(a = 1",
        "a = 1 b",
        "a ! 1",
        "DATE('2020-13-01') = d",
        "S_INTERSECTS(geometry, POINT(1))",
        "S_INTERSECTS(geometry, POINT EMPTY)",
        "DROP(x)",
        "a = 1; DROP TABLE x",
    ] {
        assert!(parse_text(bad).is_err(), "{bad}");
    }
    let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
    assert!(parse_text(&deep).is_err());
    let nots = format!("{}a = 1", "NOT ".repeat(200));
    assert!(parse_text(&nots).is_err());
}

#[test]
fn json_and_text_give_the_same_tree() {
    let pairs = [
        (
            json!({"op": "and", "args": [
                {"op": ">=", "args": [{"property": "a"}, 3]},
                {"op": "like", "args": [{"property": "b"}, "Bo%"]}]}),
            "a >= 3 AND b LIKE 'Bo%'",
        ),
        (
            json!({"op": "s_intersects", "args": [{"property": "geometry"},
                {"type": "Point", "coordinates": [15.1, 59.2]}]}),
            "S_INTERSECTS(geometry, POINT(15.1 59.2))",
        ),
        (
            json!({"op": "in", "args": [{"property": "a"}, ["x", "y"]]}),
            "a IN ('x','y')",
        ),
        (
            json!({"op": "not", "args": [{"op": "isNull", "args": [{"property": "a"}]}]}),
            "NOT a IS NULL",
        ),
        (
            json!({"op": "t_before", "args": [{"property": "d"}, {"date": "2020-01-01"}]}),
            "T_BEFORE(d, DATE('2020-01-01'))",
        ),
        (
            json!({"op": "s_within", "args": [{"property": "geometry"}, {"bbox": [1, 2, 3, 4]}]}),
            "S_WITHIN(geometry, BBOX(1, 2, 3, 4))",
        ),
    ];
    for (j, t) in pairs {
        assert_eq!(parse_json(&j), parse_text(t), "{t}");
    }
    for bad in [
        json!({"op": "drop", "args": []}),
        json!({"op": "=", "args": [1]}),
        json!({"args": []}),
        json!({"op": "s_intersects", "args": [{"property": "g"}, {"type": "Point", "coordinates": []}]}),
    ] {
        assert!(parse_json(&bad).is_err(), "{bad}");
    }
}
