//! Response compression: brotli or gzip, as the client's `Accept-Encoding` prefers, for the media types that
//! shrink (JSON, text, JavaScript, glb, Arrow IPC). Each response is compressed whole (bodies here are
//! bounded: tiles, listings, row-limited SQL, viewer files); bodies over [`MAX_BODY`] pass unchanged.
//!
//! Why not tower-http's `CompressionLayer`: its brotli support enables the `brotli` feature of
//! `async-compression`, a crate DataFusion shares, and would rebuild the whole query stack; flate2 and brotli
//! are used here with the features the workspace already builds.
//!
//! A strong ETag gets the coding appended (`"abc"` → `"abc-br"`): RFC 9110 §8.8.3 asks that different
//! representations have different strong validators. [`crate::routes::tiles`] strips it again when it
//! compares `If-None-Match`.

use std::io::Write;

use axum::body::{Full, boxed};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// Bodies smaller than this are not worth compressing.
const MIN_BODY: usize = 860;
/// Bodies larger than this (by Content-Length) are sent as they are.
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// A content coding this server produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// RFC 7932.
    Brotli,
    /// RFC 1952.
    Gzip,
}

impl Coding {
    /// The token in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to use for a request: brotli when accepted, else gzip, else none (`q=0` refuses one).
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut br = false;
    let mut gzip = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match token.as_str() {
                "br" => br = true,
                "gzip" | "x-gzip" => gzip = true,
                "*" => {
                    br = true;
                    gzip = true;
                }
                _ => {}
            }
        }
    }
    if br {
        Some(Coding::Brotli)
    } else if gzip {
        Some(Coding::Gzip)
    } else {
        None
    }
}

fn compressible(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ct = ct.to_ascii_lowercase();
    // This middleware buffers what it compresses; an event stream never ends, so it passes through.
    if ct.starts_with("text/event-stream") {
        return false;
    }
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("javascript")
        || ct.contains("xml")
        || ct.starts_with("model/gltf")
        || ct.starts_with("application/vnd.apache.arrow")
        || ct.starts_with("application/wasm")
}

/// Compresses `data`.
pub fn encode(coding: Coding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            {
                // Quality 5 of 11: most of brotli's gain at a fraction of the top levels' time.
                let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, 5, 22);
                w.write_all(data)?;
                w.flush()?;
            }
            Ok(out)
        }
    }
}

/// Middleware: compresses compressible responses for clients that accept it.
pub async fn compress<B>(req: Request<B>, next: Next<B>) -> Response {
    let coding = negotiate(req.headers());
    let response = next.run(req).await;
    let headers = response.headers();
    if !compressible(headers) || response.status() == StatusCode::PARTIAL_CONTENT {
        return response;
    }
    let mut response = response;
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let Some(coding) = coding else {
        return response;
    };
    let headers = response.headers();
    let too_big = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY);
    if too_big
        || headers.contains_key(header::CONTENT_ENCODING)
        || response.status() == StatusCode::NOT_MODIFIED
        || response.status() == StatusCode::NO_CONTENT
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match hyper::body::to_bytes(body).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("cannot read a response body to compress it: {e}");
            let mut r = Response::new(boxed(Full::from("")));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return r;
        }
    };
    if bytes.len() < MIN_BODY {
        return Response::from_parts(parts, boxed(Full::from(bytes)));
    }
    let encoded = match tokio::task::spawn_blocking(move || (encode(coding, &bytes), bytes)).await {
        Ok((Ok(e), _)) => e,
        Ok((Err(e), bytes)) => {
            tracing::warn!("compression failed, sending the body as it is: {e}");
            return Response::from_parts(parts, boxed(Full::from(bytes)));
        }
        Err(e) => {
            tracing::warn!("compression task failed: {e}");
            let mut r = Response::new(boxed(Full::from("")));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return r;
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    if let Some(etag) = parts
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        && let Some(inner) = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"'))
        && let Ok(v) = HeaderValue::from_str(&format!("\"{inner}-{}\"", coding.token()))
    {
        parts.headers.insert(header::ETAG, v);
    }
    Response::from_parts(parts, boxed(Full::from(encoded)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_brotli_and_honours_q_zero() {
        let cases = [
            ("gzip, deflate, br", Some(Coding::Brotli)),
            ("gzip", Some(Coding::Gzip)),
            ("br;q=0, gzip", Some(Coding::Gzip)),
            ("identity", None),
            ("*", Some(Coding::Brotli)),
            ("", None),
        ];
        for (accept, want) in cases {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(accept));
            assert_eq!(negotiate(&h), want, "{accept}");
        }
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let data = b"tvilling ".repeat(200);
        let z = encode(Coding::Gzip, &data).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(encode(Coding::Brotli, &data).unwrap().len() < data.len());
    }
}
