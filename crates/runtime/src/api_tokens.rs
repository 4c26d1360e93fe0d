//! Bearer tokens of the HTTP API: creating them, checking a request's token,
//! the admin token of a first start, listing and revoking.
//!
//! A token's plaintext is `bf_` followed by 32 random bytes in lower-case hex.
//! It is shown once and never stored: the store keeps its SHA-256 (hex) in a
//! unique index, and [`Runtime::authenticate`] hashes the presented token and
//! looks that hash up (one indexed read, no write). A fast hash is enough
//! here: the plaintext carries 256 bits from the OS random source, so no
//! dictionary or brute force gets anywhere, unlike with passwords, which need
//! a slow salted hash. Comparing hashes through the index also keeps the
//! plaintext out of any timing-dependent comparison.
//!
//! A token found is remembered for [`Options::api_token_cache_ms`] (1 s by
//! default, [`TokenCache`]): every request authenticates, and the lookup was
//! a hop to a reader connection's thread and back, about 0.1 ms of each
//! start under load. The price is that a server honours a token revoked by
//! another process (`botflow tokens revoke`) for up to that long; a token
//! revoked through this runtime is forgotten at once, and unknown tokens are
//! never remembered, so a new one works at once.
//!
//! [`Options::api_token_cache_ms`]: crate::Options::api_token_cache_ms

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use store::{ApiTokenRecord, NewApiToken, Store};

use crate::time::now_ms;
use crate::{Error, Result, Runtime};

/// What every token's plaintext starts with, so a leaked one is recognisable
/// (e.g. by secret scanners) and a malformed one is refused without a lookup.
pub const API_TOKEN_PREFIX: &str = "bf_";

/// How many random bytes a token carries.
const TOKEN_BYTES: usize = 32;

/// The longest token name accepted (an approver's identity, e.g. an e-mail).
pub const MAX_API_TOKEN_NAME_CHARS: usize = 200;

/// What a bearer token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiRole {
    /// Everything, including token management.
    Admin,
    /// Runs and events: start, cancel, retry, message, publish; and read.
    Operator,
    /// Lists and decides only the approvals addressed to its identity (the token's name).
    Approver,
    /// Read only.
    Viewer,
}

impl ApiRole {
    /// Every role, most powerful first.
    pub const ALL: [ApiRole; 4] = [
        ApiRole::Admin,
        ApiRole::Operator,
        ApiRole::Approver,
        ApiRole::Viewer,
    ];

    /// The role's name as stored and typed (`admin`, `operator`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Admin => "admin",
            ApiRole::Operator => "operator",
            ApiRole::Approver => "approver",
            ApiRole::Viewer => "viewer",
        }
    }
}

impl fmt::Display for ApiRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use one of admin, operator, approver, viewer")]
pub struct UnknownApiRole(pub String);

impl FromStr for ApiRole {
    type Err = UnknownApiRole;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        ApiRole::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownApiRole(s.to_owned()))
    }
}

/// The holder of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPrincipal {
    /// The token's id.
    pub token_id: String,
    /// The token's name: for an approver, the identity whose approvals it decides.
    pub name: String,
    /// What it may do.
    pub role: ApiRole,
}

/// The most tokens a [`TokenCache`] holds; when full, it starts afresh
/// (a bound on memory, whatever the number of tokens in use).
const TOKEN_CACHE_MAX: usize = 1024;

/// The tokens [`Runtime::authenticate`] found lately, by hash, each with
/// when it was found.
#[derive(Debug, Default)]
pub(crate) struct TokenCache(Mutex<HashMap<String, (ApiPrincipal, Instant)>>);

impl TokenCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<String, (ApiPrincipal, Instant)>> {
        // A panic while holding the lock leaves a plain map: still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The principal of the token hashed `hash`, if found within `ttl`.
    fn get(&self, hash: &str, ttl: Duration) -> Option<ApiPrincipal> {
        let entries = self.entries();
        let (principal, found) = entries.get(hash)?;
        (found.elapsed() < ttl).then(|| principal.clone())
    }

    fn put(&self, hash: String, principal: ApiPrincipal) {
        let mut entries = self.entries();
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash, (principal, Instant::now()));
    }

    /// Forgets the token with id `token_id`.
    fn forget(&self, token_id: &str) {
        self.entries()
            .retain(|_, (principal, _)| principal.token_id != token_id);
    }
}

/// The SHA-256 of a token's plaintext, in lower-case hex (what the store keeps).
pub fn api_token_hash(plaintext: &str) -> String {
    hex(&Sha256::digest(plaintext.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn random_hex(len: usize, what: &str) -> Result<String> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::ApiToken(format!("cannot generate {what}: {e}")))?;
    Ok(hex(&bytes))
}

/// Whether `bearer` has the shape of a token this code makes; anything else
/// cannot match a stored hash, so it is refused without a lookup.
fn well_formed(bearer: &str) -> bool {
    bearer.strip_prefix(API_TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == TOKEN_BYTES * 2
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn check_name(name: &str) -> Result<()> {
    let refuse = |reason: &str| {
        Err(Error::ApiToken(format!(
            "the token name {name:?} cannot be used: {reason}; nothing was stored"
        )))
    };
    if name.trim().is_empty() {
        return refuse("it is empty");
    }
    if name.chars().count() > MAX_API_TOKEN_NAME_CHARS {
        return refuse(&format!(
            "it is longer than {MAX_API_TOKEN_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains control characters");
    }
    if name.trim() != name {
        return refuse("it starts or ends with white space");
    }
    Ok(())
}

/// A new token: its row to store and its plaintext.
fn generate(role: ApiRole, name: &str) -> Result<(NewApiToken, String)> {
    let plaintext = format!(
        "{API_TOKEN_PREFIX}{}",
        random_hex(TOKEN_BYTES, "an API token")?
    );
    let new = NewApiToken {
        id: format!("tok_{}", random_hex(8, "an API token id")?),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        token_hash: api_token_hash(&plaintext),
        created_at: now_ms(),
    };
    Ok((new, plaintext))
}

impl Runtime {
    /// Creates a token; returns its stored record and the plaintext (shown
    /// once, never stored). A bad name is [`Error::ApiToken`] and stores nothing.
    pub async fn create_api_token(
        &self,
        role: ApiRole,
        name: &str,
    ) -> Result<(ApiTokenRecord, String)> {
        check_name(name)?;
        let (new, plaintext) = generate(role, name)?;
        let record = self.store().create_api_token(new).await?;
        Ok((record, plaintext))
    }

    /// The principal of a bearer token, or `None` if it is malformed,
    /// unknown or revoked. One indexed lookup, no write; none when the token
    /// was found within [`Options::api_token_cache_ms`](crate::Options::api_token_cache_ms).
    pub async fn authenticate(&self, bearer: &str) -> Result<Option<ApiPrincipal>> {
        if !well_formed(bearer) {
            return Ok(None);
        }
        let hash = api_token_hash(bearer);
        let ttl = Duration::from_millis(self.inner.options.api_token_cache_ms);
        let cache = &self.inner.api_tokens;
        if let Some(principal) = cache.get(&hash, ttl) {
            return Ok(Some(principal));
        }
        let Some(record) = self.store().api_token_by_hash(&hash).await? else {
            return Ok(None);
        };
        // The store returns only live tokens; checking again costs nothing
        // and keeps a revoked token out even if that contract changed.
        if record.revoked_at.is_some() {
            return Ok(None);
        }
        let role = record
            .role
            .parse::<ApiRole>()
            .map_err(|e| Error::ApiToken(format!("API token {} has a stored {e}", record.id)))?;
        let principal = ApiPrincipal {
            token_id: record.id,
            name: record.name,
            role,
        };
        if !ttl.is_zero() {
            cache.put(hash, principal.clone());
        }
        Ok(Some(principal))
    }

    /// Creates an admin token (name `admin`) if the store has no token at all
    /// (revoked ones count as existing) and returns its plaintext, once.
    /// Two concurrent callers, even on two nodes, never both create one.
    pub async fn ensure_admin_token(&self) -> Result<Option<String>> {
        let (new, plaintext) = generate(ApiRole::Admin, "admin")?;
        let created = self.store().create_first_api_token(new).await?;
        Ok(created.map(|_| plaintext))
    }

    /// Every token, revoked ones included, oldest first (never a secret).
    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>> {
        Ok(self.store().api_tokens().await?)
    }

    /// Revokes a token by id and returns it as it now stands. An unknown id or
    /// a token revoked before is an error ([`store::ApiTokenRefused`] inside
    /// [`Error::Store`]) and changes nothing.
    pub async fn revoke_api_token(&self, id: &str) -> Result<ApiTokenRecord> {
        let revoked = self.store().revoke_api_token(id, now_ms()).await;
        // Forgotten even when the store refused: it may have been revoked
        // by another process meanwhile.
        self.inner.api_tokens.forget(id);
        Ok(revoked?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in ApiRole::ALL {
            assert_eq!(role.to_string().parse::<ApiRole>(), Ok(role));
        }
        let error = "root".parse::<ApiRole>().expect_err("root is no role");
        assert_eq!(
            error.to_string(),
            "unknown role \"root\": use one of admin, operator, approver, viewer"
        );
        assert!("Admin".parse::<ApiRole>().is_err(), "names are lower case");
    }

    #[test]
    fn the_role_names_are_the_ones_the_store_accepts() {
        let names: Vec<&str> = ApiRole::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, store::API_TOKEN_ROLES);
    }

    #[test]
    fn only_generated_shapes_are_well_formed() {
        let (_, plaintext) = generate(ApiRole::Viewer, "v").expect("randomness is available");
        assert!(well_formed(&plaintext), "{plaintext}");
        assert!(!well_formed(""));
        assert!(!well_formed("bf_"));
        assert!(!well_formed(&plaintext.to_uppercase()));
        assert!(!well_formed(&format!("{plaintext}0")));
        assert!(!well_formed(&plaintext.replacen("bf_", "xx_", 1)));
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            api_token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("alice@example.com").is_ok());
        for bad in ["", "  ", " alice", "a\nb", &"x".repeat(201)] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
