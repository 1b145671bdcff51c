//! What OGC API Features answers look like: absolute links (built from the request's `Host`), feature
//! documents from query rows, and a plain HTML page for people (`?f=html` or `Accept: text/html`).

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::OgcError;

/// Media types used in links.
pub const JSON: &str = "application/json";
/// GeoJSON.
pub const GEOJSON: &str = "application/geo+json";
/// HTML.
pub const HTML: &str = "text/html";

/// How to answer: JSON (or GeoJSON) or HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// JSON / GeoJSON.
    Json,
    /// An HTML page.
    Html,
}

impl Out {
    /// `?f=` wins; else `Accept` asking for text/html; else JSON.
    pub fn pick(f: Option<&str>, headers: &HeaderMap) -> Result<Out, OgcError> {
        match f {
            Some("html") => Ok(Out::Html),
            Some("json" | "geojson") => Ok(Out::Json),
            Some(other) => Err(OgcError::bad(format!(
                "f={other} is not a format here; use f=json or f=html"
            ))),
            None => {
                let accept = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                Ok(if accept.contains(HTML) {
                    Out::Html
                } else {
                    Out::Json
                })
            }
        }
    }
}

/// `http://host` of the request (`X-Forwarded-Proto` honoured behind a proxy).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let proto = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{proto}://{host}")
}

/// `url` with `pairs` as its query string, percent-encoded.
pub fn with_query(url: &str, pairs: &[(String, String)]) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if !pairs.is_empty() {
                u.query_pairs_mut().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// One link object.
pub fn link(href: &str, rel: &str, media: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": media, "title": title })
}

/// The response: `doc` as JSON with `media` type, or as an HTML page titled `title`.
pub fn respond(out: Out, media: &'static str, title: &str, doc: &Value) -> Response {
    match out {
        Out::Json => {
            let mut r = doc.to_string().into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
            r
        }
        Out::Html => {
            let mut r = html(title, doc).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
    }
}

/// Text escaped for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => escape(s),
        Value::Null => String::new(),
        other => escape(&other.to_string()),
    }
}

/// A plain page: the links, then collections or features as tables, then the rest of the document.
pub fn html(title: &str, doc: &Value) -> String {
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}</style></head><body><h1>{t}</h1>",
        t = escape(title)
    );
    if let Some(links) = doc.get("links").and_then(Value::as_array) {
        h.push_str("<ul>");
        for l in links {
            let href = l.get("href").and_then(Value::as_str).unwrap_or("");
            let rel = l.get("rel").and_then(Value::as_str).unwrap_or("");
            let t = l.get("title").and_then(Value::as_str).unwrap_or(rel);
            h.push_str(&format!(
                "<li><a href=\"{}\">{}</a> ({})</li>",
                escape(href),
                escape(t),
                escape(rel)
            ));
        }
        h.push_str("</ul>");
    }
    if let Some(cols) = doc.get("collections").and_then(Value::as_array) {
        h.push_str("<table><tr><th>collection</th><th>description</th></tr>");
        for c in cols {
            let id = c.get("id").and_then(Value::as_str).unwrap_or("");
            h.push_str(&format!(
                "<tr><td><a href=\"collections/{0}?f=html\">{0}</a></td><td>{1}</td></tr>",
                escape(id),
                cell(c.get("description").unwrap_or(&Value::Null))
            ));
        }
        h.push_str("</table>");
    }
    let features: Vec<&Value> = match doc.get("features").and_then(Value::as_array) {
        Some(f) => f.iter().collect(),
        None if doc.get("type") == Some(&json!("Feature")) => vec![doc],
        None => Vec::new(),
    };
    if !features.is_empty() {
        let names: Vec<String> = features[0]
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        h.push_str("<table><tr><th>id</th>");
        for n in &names {
            h.push_str(&format!("<th>{}</th>", escape(n)));
        }
        h.push_str("</tr>");
        for f in features {
            h.push_str(&format!(
                "<tr><td>{}</td>",
                cell(f.get("id").unwrap_or(&Value::Null))
            ));
            for n in &names {
                let v = f
                    .get("properties")
                    .and_then(|p| p.get(n))
                    .unwrap_or(&Value::Null);
                h.push_str(&format!("<td>{}</td>", cell(v)));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    } else if doc.get("collections").is_none() {
        let mut rest = doc.clone();
        if let Some(o) = rest.as_object_mut() {
            o.remove("links");
        }
        let pretty = serde_json::to_string_pretty(&rest).unwrap_or_default();
        h.push_str(&format!("<pre>{}</pre>", escape(&pretty)));
    }
    h.push_str("</body></html>\n");
    h
}

/// Swaps the first two numbers of every position of a GeoJSON geometry, for north-first CRSs.
pub fn swap_axes(geometry: &mut Value) {
    fn walk(v: &mut Value) {
        if let Value::Array(a) = v {
            if a.first().is_some_and(Value::is_number) {
                if a.len() >= 2 {
                    a.swap(0, 1);
                }
            } else {
                a.iter_mut().for_each(walk);
            }
        }
    }
    if let Some(c) = geometry.get_mut("coordinates") {
        walk(c);
    }
    if let Some(Value::Array(gs)) = geometry.get_mut("geometries") {
        gs.iter_mut().for_each(swap_axes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything_it_shows() {
        let doc = json!({"links": [{"href": "/x?a=<b>", "rel": "self", "title": "\"t\""}],
                         "features": [{"type": "Feature", "id": "<script>", "properties": {"a": "<i>"}}]});
        let h = html("<T>", &doc);
        assert!(
            !h.contains("<script>") && !h.contains("<i>") && !h.contains("<T>"),
            "{h}"
        );
    }

    #[test]
    fn swaps_axes_of_nested_positions() {
        let mut g = json!({"type": "Polygon", "coordinates": [[[1, 2], [3, 4]]]});
        swap_axes(&mut g);
        assert_eq!(g["coordinates"], json!([[[2, 1], [4, 3]]]));
    }
}
