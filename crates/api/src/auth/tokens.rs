//! Signed bearer values: the browser session cookie and API token secrets, both HS256 JWTs
//! signed with the server's secret key (jsonwebtoken).
//!
//! A valid signature only says the server issued the value. Whether it still works (session not
//! ended, token not revoked or expired) is decided against the database and the server's clock,
//! never against the JWT's own `exp`, so the simulated clock of the demo seeder stays consistent.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What a session cookie carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Always `"session"`, so an API token can never pass for a cookie.
    pub typ: String,
    /// The `sessions` row.
    pub sid: String,
    /// The user's id.
    pub sub: i64,
}

/// What an API token's secret carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiTokenClaims {
    /// Always `"api"`.
    pub typ: String,
    /// The `api_tokens` row.
    pub tid: i64,
    /// The project the token belongs to.
    pub pid: i64,
    /// Random, so that two tokens never share a secret.
    pub nonce: String,
}

pub fn sign_session(key: &str, sid: &str, user_id: i64) -> anyhow::Result<String> {
    let claims = SessionClaims {
        typ: "session".into(),
        sid: sid.into(),
        sub: user_id,
    };
    Ok(encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )?)
}

pub fn sign_api_token(key: &str, token_id: i64, project_id: i64) -> anyhow::Result<String> {
    let claims = ApiTokenClaims {
        typ: "api".into(),
        tid: token_id,
        pid: project_id,
        nonce: random_hex(16)?,
    };
    Ok(encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )?)
}

/// The claims of a session cookie with a valid signature; `None` for anything else.
pub fn read_session(key: &str, value: &str) -> Option<SessionClaims> {
    let claims: SessionClaims = decode(
        value,
        &DecodingKey::from_secret(key.as_bytes()),
        &validation(),
    )
    .ok()?
    .claims;
    (claims.typ == "session").then_some(claims)
}

/// The claims of an API token with a valid signature; `None` for anything else.
pub fn read_api_token(key: &str, value: &str) -> Option<ApiTokenClaims> {
    let claims: ApiTokenClaims = decode(
        value,
        &DecodingKey::from_secret(key.as_bytes()),
        &validation(),
    )
    .ok()?
    .claims;
    (claims.typ == "api").then_some(claims)
}

/// `bytes` random bytes as hex.
pub fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(hex::encode(buffer))
}

fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_round_trip_and_refuse_other_keys_and_kinds() {
        let token = sign_api_token(KEY, 7, 3).unwrap();
        let claims = read_api_token(KEY, &token).unwrap();
        assert_eq!((claims.tid, claims.pid), (7, 3));
        assert!(read_api_token("another key, also 32 characters!", &token).is_none());
        assert!(read_session(KEY, &token).is_none());
        let session = sign_session(KEY, "abc", 5).unwrap();
        assert!(read_api_token(KEY, &session).is_none());
        assert_eq!(read_session(KEY, &session).unwrap().sub, 5);
        assert!(read_api_token(KEY, "not.a.jwt").is_none());
        assert_ne!(sign_api_token(KEY, 7, 3).unwrap(), token);
    }
}
