//! OIDC bearer tokens: a local identity provider (an RSA key made with the openssl CLI, its JWKS served on
//! loopback) signs tokens; the server accepts exactly the valid ones and maps provider roles to
//! classifications, and refuses expired, foreign, mis-addressed and forged tokens with 401.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tvilling_web::ServerConfig;
use tvilling_web::auth::Role;
use tvilling_web::auth::oidc::OidcConfig;

use crate::util::{audit_events, json, serve_with, twin};

const ISSUER: &str = "https://login.example.se/realms/kommun";
const AUDIENCE: &str = "tvilling";

/// An RSA key pair from the openssl CLI: the private key as PKCS#1 DER, the modulus base64url-encoded.
fn rsa_key(dir: &Path, name: &str) -> (Vec<u8>, String) {
    let pem = dir.join(format!("{name}.pem"));
    let der = dir.join(format!("{name}.der"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl CLI");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    run(&["genrsa", "-out", pem.to_str().unwrap(), "2048"]);
    run(&[
        "rsa",
        "-in",
        pem.to_str().unwrap(),
        "-traditional",
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    let modulus = run(&["rsa", "-in", pem.to_str().unwrap(), "-noout", "-modulus"]);
    let hex = modulus.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    (std::fs::read(der).unwrap(), URL_SAFE_NO_PAD.encode(bytes))
}

/// Serves `body` as JSON to every request on a loopback port; returns the URL.
async fn jwks_server(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/realms/kommun/protocol/openid-connect/certs")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(der: &[u8], kid: &str, claims: &Value) -> String {
    let header = Header {
        kid: Some(kid.into()),
        ..Header::new(Algorithm::RS256)
    };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der)).unwrap()
}

fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": now() + 600, "iat": now(),
        "realm_access": { "roles": roles }
    })
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_tokens_map_provider_roles_and_bad_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (der, n) = rsa_key(dir.path(), "idp");
    let (forger, _) = rsa_key(dir.path(), "forger");
    let jwks = json!({ "keys": [{ "kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": n, "e": "AQAB" }] });
    let url = jwks_server(jwks.to_string()).await;
    let mut config = ServerConfig::default();
    config.auth.oidc = Some(OidcConfig {
        issuer: ISSUER.into(),
        jwks_url: url,
        audience: AUDIENCE.into(),
        roles_claim: "realm_access.roles".into(),
        role_map: BTreeMap::from([
            ("planerare".into(), Role::ReaderInternal),
            ("gis-admin".into(), Role::Admin),
        ]),
        leeway_seconds: 5,
        refresh_seconds: 600,
    });
    let s = serve_with(&twin().store, config).await;
    let list = |t: String| {
        let r = s.get("/api/datasets").bearer_auth(t).send();
        async move { r.await.unwrap() }
    };

    // A planner sees open and internal data; an administrator everything; a signed-in person with no
    // mapped role only open data.
    let planner = token(&der, "k1", &claims("per", &["planerare", "offline_access"]));
    let r = list(planner.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(names(&json(r).await), ["byggnader", "intern"]);
    let admin = token(&der, "k1", &claims("anna", &["gis-admin", "planerare"]));
    assert_eq!(
        names(&json(list(admin).await).await),
        ["byggnader", "hemlig", "intern"]
    );
    let nobody = token(&der, "k1", &claims("eva", &["uma_authorization"]));
    assert_eq!(names(&json(list(nobody).await).await), ["byggnader"]);

    // Reads of internal data are audited under the person's subject.
    let r = s
        .sql("SELECT count(*) AS n FROM intern", "json")
        .bearer_auth(&planner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        audit_events()
            .iter()
            .any(|(who, dataset, _)| who == "oidc:per" && dataset == "intern"),
        "{:?}",
        audit_events()
    );

    // Refused: expired, for another application, from another issuer, forged, unknown key, not a JWT.
    let mut expired = claims("per", &["planerare"]);
    expired["exp"] = json!(now() - 3600);
    let mut foreign = claims("per", &["planerare"]);
    foreign["aud"] = json!("another-app");
    let mut elsewhere = claims("per", &["planerare"]);
    elsewhere["iss"] = json!("https://evil.example/realms/kommun");
    let refused = [
        (token(&der, "k1", &expired), "expired"),
        (token(&der, "k1", &foreign), "audience"),
        (token(&der, "k1", &elsewhere), "issuer"),
        (
            token(&forger, "k1", &claims("per", &["gis-admin"])),
            "signature",
        ),
        (
            token(&forger, "k9", &claims("per", &["gis-admin"])),
            "no key",
        ),
        ("a.b.c".to_string(), "not a JWT"),
    ];
    for (t, why) in refused {
        let r = list(t).await;
        assert_eq!(r.status(), 401, "{why}");
        let body = r.text().await.unwrap().to_lowercase();
        assert!(body.contains(&why.to_lowercase()), "{why}: {body}");
    }
}
