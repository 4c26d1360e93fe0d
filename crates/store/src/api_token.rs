//! API tokens: the bearer tokens of the HTTP API.
//!
//! The store never sees a token's plaintext: the runtime generates it, shows
//! it once, and hands the store only its hash ([`NewApiToken::token_hash`]),
//! which is unique and indexed so that authenticating a request is one
//! indexed lookup ([`Store::api_token_by_hash`]). Records never carry the
//! hash back out, so listing tokens cannot leak anything usable.
//!
//! Refusals ([`ApiTokenRefused`]) change nothing:
//! - a role outside [`API_TOKEN_ROLES`] is refused by the table's `CHECK`;
//! - a second token with the same id or hash is refused by its unique index;
//! - revoking an unknown or already revoked token writes nothing.
//!
//! [`Store::create_first_api_token`] inserts only into an empty table, under
//! a lock that makes two concurrent first starts create one token.
//!
//! [`Store::api_token_by_hash`]: crate::Store::api_token_by_hash
//! [`Store::create_first_api_token`]: crate::Store::create_first_api_token

/// The roles the `api_tokens` table accepts (its `CHECK` constraint).
pub const API_TOKEN_ROLES: [&str; 4] = ["admin", "operator", "approver", "viewer"];

/// A stored API token, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// The token's id (not secret: shown by `botflow tokens list`, used to revoke).
    pub id: String,
    /// Who or what holds the token.
    pub name: String,
    /// One of [`API_TOKEN_ROLES`].
    pub role: String,
    /// When it was created (epoch ms).
    pub created_at: i64,
    /// When it was revoked (epoch ms); a revoked token authenticates nothing.
    pub revoked_at: Option<i64>,
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Its id.
    pub id: String,
    /// Who or what holds it.
    pub name: String,
    /// One of [`API_TOKEN_ROLES`]; anything else is refused by the database.
    pub role: String,
    /// The SHA-256 (lower-case hex) of the plaintext.
    pub token_hash: String,
    /// When it is created (epoch ms).
    pub created_at: i64,
}

/// Why an API token operation was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiTokenRefused {
    /// No token has this id.
    #[error("no API token with id {0:?}")]
    Unknown(String),
    /// The token was revoked before; it stays as it was.
    #[error("API token {id:?} was already revoked (at {revoked_at} ms); nothing changed")]
    AlreadyRevoked {
        /// The token.
        id: String,
        /// When it was revoked.
        revoked_at: i64,
    },
    /// Another token already has this id or hash.
    #[error("an API token with this {what} already exists; nothing was stored")]
    Duplicate {
        /// `id` or `hash`.
        what: &'static str,
    },
    /// The database's `CHECK` refused the role.
    #[error(
        "invalid API token role {0:?}: use one of admin, operator, approver, viewer; \
         nothing was stored"
    )]
    InvalidRole(String),
}
