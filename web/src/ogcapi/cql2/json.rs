//! The `cql2-json` reader, building the same AST as the text reader.

use serde_json::Value;

use super::text::{date, instant, timestamp};
use super::{
    CmpOp, Coords, Expr, GEOMETRY_KINDS, Geometry, MAX_DEPTH, Operand, SpatialOp, TemporalOp,
};

/// Parses a `cql2-json` filter.
pub fn parse_json(v: &Value) -> Result<Expr, String> {
    json_expr(v, 0)
}

fn json_expr(v: &Value, depth: usize) -> Result<Expr, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
    }
    if let Value::Bool(b) = v {
        return Ok(Expr::Bool(*b));
    }
    let op = v
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("expected an object with \"op\" and \"args\", got {v}"))?;
    let args = v
        .get("args")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("\"{op}\" needs an \"args\" array"))?;
    let n = |want: usize| {
        if args.len() == want {
            Ok(())
        } else {
            Err(format!(
                "\"{op}\" takes {want} arguments, not {}",
                args.len()
            ))
        }
    };
    let lower = op.to_ascii_lowercase();
    match lower.as_str() {
        "and" | "or" => {
            if args.len() < 2 {
                return Err(format!("\"{op}\" takes at least 2 arguments"));
            }
            let items = args
                .iter()
                .map(|a| json_expr(a, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if lower == "and" {
                Expr::And(items)
            } else {
                Expr::Or(items)
            })
        }
        "not" => {
            n(1)?;
            Ok(Expr::Not(Box::new(json_expr(&args[0], depth + 1)?)))
        }
        "=" | "<>" | "<" | "<=" | ">" | ">=" => {
            n(2)?;
            let cmp = CmpOp::from_symbol(op).ok_or_else(|| format!("unknown operator {op}"))?;
            Ok(Expr::Compare(
                cmp,
                json_operand(&args[0])?,
                json_operand(&args[1])?,
            ))
        }
        "like" => {
            n(2)?;
            Ok(Expr::Like(
                json_operand(&args[0])?,
                json_operand(&args[1])?,
                false,
            ))
        }
        "between" => {
            n(3)?;
            Ok(Expr::Between(
                json_operand(&args[0])?,
                json_operand(&args[1])?,
                json_operand(&args[2])?,
                false,
            ))
        }
        "in" => {
            n(2)?;
            let list = args[1]
                .as_array()
                .ok_or_else(|| "the second argument of \"in\" is an array".to_string())?
                .iter()
                .map(json_operand)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Expr::In(json_operand(&args[0])?, list, false))
        }
        "isnull" => {
            n(1)?;
            Ok(Expr::IsNull(json_operand(&args[0])?, false))
        }
        _ => {
            if let Some(s) = SpatialOp::from_name(op) {
                n(2)?;
                return Ok(Expr::Spatial(
                    s,
                    json_operand(&args[0])?,
                    json_operand(&args[1])?,
                ));
            }
            if let Some(t) = TemporalOp::from_name(op) {
                n(2)?;
                return Ok(Expr::Temporal(
                    t,
                    json_operand(&args[0])?,
                    json_operand(&args[1])?,
                ));
            }
            Err(format!("unknown or unsupported operator \"{op}\""))
        }
    }
}

fn json_operand(v: &Value) -> Result<Operand, String> {
    match v {
        Value::String(s) => Ok(Operand::Str(s.clone())),
        Value::Bool(b) => Ok(Operand::Bool(*b)),
        Value::Number(n) => n
            .as_f64()
            .map(Operand::Num)
            .ok_or_else(|| format!("{n} is not a usable number")),
        Value::Object(o) => {
            if let Some(p) = o.get("property").and_then(Value::as_str) {
                return Ok(Operand::Property(p.to_string()));
            }
            if let Some(d) = o.get("date").and_then(Value::as_str) {
                return date(d);
            }
            if let Some(t) = o.get("timestamp").and_then(Value::as_str) {
                return timestamp(t);
            }
            if let Some(i) = o.get("interval").and_then(Value::as_array) {
                let end = |e: &Value| -> Result<Option<Box<Operand>>, String> {
                    match e {
                        Value::String(s) if s == ".." => Ok(None),
                        Value::String(s) => instant(s).map(|o| Some(Box::new(o))),
                        other => json_operand(other).map(|o| Some(Box::new(o))),
                    }
                };
                let [a, b] = i.as_slice() else {
                    return Err("an interval has two ends".into());
                };
                return Ok(Operand::Interval(end(a)?, end(b)?));
            }
            if let Some(b) = o.get("bbox").and_then(Value::as_array) {
                let nums = b
                    .iter()
                    .map(|x| x.as_f64().filter(|f| f.is_finite()))
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| "a bbox holds numbers".to_string())?;
                return Ok(Operand::Geometry(Geometry::from_bbox(&nums)?));
            }
            if o.contains_key("coordinates") {
                return geojson(v).map(Operand::Geometry);
            }
            Err(format!(
                "cannot read {v} as a value, property, time or geometry"
            ))
        }
        Value::Null | Value::Array(_) => Err(format!("cannot read {v} as a value")),
    }
}

/// A GeoJSON geometry object as a geometry literal.
fn geojson(v: &Value) -> Result<Geometry, String> {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "a GeoJSON geometry needs a \"type\"".to_string())?;
    let upper = kind.to_ascii_uppercase();
    if !GEOMETRY_KINDS.contains(&upper.as_str()) {
        return Err(format!(
            "GeoJSON type \"{kind}\" is not supported in filters"
        ));
    }
    fn coords(v: &Value, depth: usize) -> Result<Coords, String> {
        let a = v
            .as_array()
            .ok_or_else(|| "GeoJSON coordinates are arrays".to_string())?;
        if depth > 4 {
            return Err("GeoJSON coordinates nest too deep".into());
        }
        if a.first().is_some_and(Value::is_number) {
            let p = a
                .iter()
                .map(|x| x.as_f64().filter(|f| f.is_finite()))
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| "a GeoJSON position holds numbers".to_string())?;
            if p.len() < 2 || p.len() > 3 {
                return Err("a GeoJSON position has 2 or 3 numbers".into());
            }
            return Ok(Coords::Position(p));
        }
        if a.is_empty() {
            return Err("empty GeoJSON coordinates cannot be used in a filter".into());
        }
        a.iter()
            .map(|x| coords(x, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Coords::List)
    }
    let c = coords(
        v.get("coordinates")
            .ok_or_else(|| "a GeoJSON geometry needs \"coordinates\"".to_string())?,
        0,
    )?;
    // WKT writes a point's position inside parentheses.
    let c = match c {
        p @ Coords::Position(_) => Coords::List(vec![p]),
        other => other,
    };
    Ok(Geometry {
        kind: upper,
        coords: c,
    })
}
