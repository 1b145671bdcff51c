//! OIDC bearer tokens for people: JWTs signed by the configured identity provider (Keycloak, Entra ID,
//! Okta, …), checked against its published keys (JWKS) — signature (RS256/384/512, PS256/384/512,
//! ES256/384), issuer, audience, expiry and not-before, with a small clock leeway.
//!
//! The provider's roles become tvilling [`Role`]s through `role_map` (provider role name → role); a
//! valid token whose roles map to nothing is a signed-in caller who sees open data only.
//!
//! Keys are fetched in the background (at start, every `refresh_seconds`, and soon after a token names a
//! key id that is not known yet — the provider rotated its keys), so checking a token never waits on the
//! network. Until the first fetch succeeds, tokens are refused with 401 and a message saying why.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Caller, Role};
use crate::error::ApiError;

/// How often keys are fetched again without a reason.
const DEFAULT_REFRESH_SECONDS: u64 = 600;
/// Least time between two fetches caused by unknown key ids (a flood of bad tokens must not become a
/// flood of requests to the provider).
const MIN_REFETCH: Duration = Duration::from_secs(30);

/// `[server.auth.oidc]`: the identity provider whose tokens are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The `iss` every token must carry, e.g. "https://login.example.se/realms/kommun".
    pub issuer: String,
    /// Where the provider publishes its keys: the `jwks_uri` of its `.well-known/openid-configuration`.
    pub jwks_url: String,
    /// The `aud` tokens must be issued for (the client id of tvilling at the provider). Required: a token
    /// for another application must not open this one.
    pub audience: String,
    /// Where the roles are in the claims, dot-separated: "roles" (Entra ID), "realm_access.roles"
    /// (Keycloak), "groups" (many others).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Provider role → tvilling role, e.g. { "planerare" = "reader-internal", "gis-admin" = "admin" }.
    #[serde(default)]
    pub role_map: BTreeMap<String, Role>,
    /// Clock skew tolerated on `exp` and `nbf` (seconds).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// How often the keys are fetched again (seconds).
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
}

fn default_roles_claim() -> String {
    "roles".into()
}
fn default_leeway() -> u64 {
    30
}
fn default_refresh() -> u64 {
    DEFAULT_REFRESH_SECONDS
}

/// The provider's keys as last fetched, and when to fetch again.
#[derive(Default)]
struct KeyState {
    keys: Option<JwkSet>,
    fetched: Option<Instant>,
    /// A token named an unknown key id: fetch at the next chance (rate-limited by [`MIN_REFETCH`]).
    wanted: bool,
    last_error: Option<String>,
}

/// Checks OIDC bearer tokens; cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    config: Arc<OidcConfig>,
    client: reqwest::Client,
    state: Arc<RwLock<KeyState>>,
}

impl Oidc {
    /// A checker for `config`; no keys until [`Oidc::refresh`] has run.
    pub fn new(config: OidcConfig) -> Oidc {
        Oidc {
            config: Arc::new(config),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            state: Arc::default(),
        }
    }

    /// Whether `token` looks like a JWT (three dot-separated parts) rather than an API key.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
    }

    /// Fetches the keys when they are due (first time, periodic refresh, or an unknown key id seen).
    pub async fn refresh(&self) {
        let due = {
            let Ok(s) = self.state.read() else { return };
            match s.fetched {
                None => true,
                Some(at) => {
                    at.elapsed() >= Duration::from_secs(self.config.refresh_seconds.max(10))
                        || (s.wanted && at.elapsed() >= MIN_REFETCH)
                }
            }
        };
        if !due {
            return;
        }
        let result = self.fetch().await;
        if let Ok(mut s) = self.state.write() {
            s.fetched = Some(Instant::now());
            s.wanted = false;
            match result {
                Ok(keys) => {
                    tracing::info!(keys = keys.keys.len(), url = %self.config.jwks_url, "OIDC keys fetched");
                    s.keys = Some(keys);
                    s.last_error = None;
                }
                Err(e) => {
                    tracing::warn!("cannot fetch the OIDC keys: {e}");
                    s.last_error = Some(e);
                }
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let url = &self.config.jwks_url;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered {}", response.status()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("{url} is not a JWKS document: {e}"))
    }

    /// The caller a token stands for, or 401 saying what is wrong with it.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let refuse = |why: String| ApiError::Unauthorized(format!("bearer token refused: {why}"));
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| refuse(format!("not a JWT ({e})")))?;
        let state = self
            .state
            .read()
            .map_err(|_| ApiError::Internal("the OIDC key table is unusable (a bug)".into()))?;
        let Some(keys) = &state.keys else {
            let why = state
                .last_error
                .clone()
                .unwrap_or_else(|| "they have not been fetched yet".into());
            return Err(refuse(format!(
                "the identity provider's keys are not available ({why})"
            )));
        };
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            // Without a key id, a provider with one key is unambiguous.
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        };
        let Some(jwk) = jwk else {
            drop(state);
            if let Ok(mut s) = self.state.write() {
                s.wanted = true;
            }
            return Err(refuse(format!(
                "no key {:?} at the identity provider (fetched again shortly; retry in a minute)",
                header.kid.unwrap_or_default()
            )));
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| refuse(format!("unusable key: {e}")))?;
        // The algorithm comes from the key, never from the token alone (no `none`, no HS/RS confusion).
        let algorithm = match (&jwk.algorithm, &jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), Some(a))
            | (AlgorithmParameters::EllipticCurve(_), Some(a)) => a
                .to_string()
                .parse::<Algorithm>()
                .map_err(|e| refuse(format!("key algorithm: {e}")))?,
            (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(_), None) => Algorithm::ES256,
            _ => return Err(refuse("only RSA and EC signing keys are accepted".into())),
        };
        if header.alg != algorithm {
            return Err(refuse(format!(
                "signed with {:?}, but the key is for {algorithm:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.leeway = self.config.leeway_seconds;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| refuse(e.to_string()))?;
        let subject = data.claims["sub"].as_str().unwrap_or_default().to_string();
        Ok(Caller::Token {
            subject,
            role: self.role(&data.claims),
        })
    }

    /// The highest-clearance tvilling role that the token's provider roles map to.
    fn role(&self, claims: &Value) -> Option<Role> {
        let mut at = claims;
        for part in self.config.roles_claim.split('.') {
            at = &at[part];
        }
        let names: Vec<&str> = match at {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        names
            .iter()
            .filter_map(|n| self.config.role_map.get(*n).copied())
            .max_by_key(|r| Role::ALL.iter().position(|x| x == r))
    }
}
