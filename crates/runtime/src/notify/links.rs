//! Signed, expiring, single-use approve/deny links (LANGUAGE.md §4.3).
//!
//! A link is `{public-url}/approve/{token}`. The token is
//! `v1.<hex payload>.<hex mac>`: the payload is the JSON
//! `{"t": token id, "r": request id, "a": approver, "x": action, "e": expiry ms}`
//! and the mac is HMAC-SHA256 of the payload bytes under the deployment
//! secret. The store keeps one row per token id (`approval_tokens`) that
//! records whether it was used or revoked; the link itself is never stored,
//! so a leaked database does not leak working links.
//!
//! The deployment secret is `BOTFLOW_SECRET` when that environment variable
//! is set and not empty (several nodes on one store must then share it), and
//! otherwise 32 random bytes generated once and kept in the store's `meta`
//! table (key `link_secret`), so every node on the same store agrees.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use store::{Store, TokenRecord};

use crate::{Error, Result};

type HmacSha256 = Hmac<sha2::Sha256>;

/// The environment variable that overrides the stored deployment secret.
pub const SECRET_ENV: &str = "BOTFLOW_SECRET";

const VERSION: &str = "v1";

/// What a token carries, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// Token id (the `approval_tokens` row).
    #[serde(rename = "t")]
    pub(crate) token_id: String,
    /// The approval request.
    #[serde(rename = "r")]
    pub(crate) approval_id: String,
    /// The approver the link speaks for.
    #[serde(rename = "a")]
    pub(crate) approver: String,
    /// `approve` or `deny`.
    #[serde(rename = "x")]
    pub(crate) action: String,
    /// Expiry, epoch ms.
    #[serde(rename = "e")]
    pub(crate) expires_at: i64,
}

impl Claims {
    /// The claims of a stored token.
    pub(crate) fn of(token: &TokenRecord) -> Claims {
        Claims {
            token_id: token.id.clone(),
            approval_id: token.approval_id.clone(),
            approver: token.approver.clone(),
            action: token.action.clone(),
            expires_at: token.expires_at,
        }
    }
}

/// The deployment secret (see the module documentation).
pub(crate) async fn secret(inner: &crate::runtime::Inner) -> Result<Vec<u8>> {
    if let Ok(value) = std::env::var(SECRET_ENV)
        && !value.is_empty()
    {
        return Ok(value.into_bytes());
    }
    // Stored once and never changed (`Store::link_secret` keeps the first
    // candidate), so one read per runtime is enough: it used to be a write
    // transaction per notification on the single writer.
    inner
        .link_secret
        .get_or_try_init(|| async {
            let mut candidate = [0u8; 32];
            getrandom::fill(&mut candidate)
                .map_err(|e| Error::Approval(format!("cannot generate the link secret: {e}")))?;
            Ok(inner
                .store
                .link_secret(&hex(&candidate))
                .await?
                .into_bytes())
        })
        .await
        .cloned()
}

/// A fresh random token id.
pub(crate) fn token_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Approval(format!("cannot generate a link token: {e}")))?;
    Ok(hex(&bytes))
}

fn mac(secret: &[u8]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC hashes or pads a key of any length: new_from_slice never fails for it.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Signs claims into a token.
pub(crate) fn sign(secret: &[u8], claims: &Claims) -> String {
    // Serialising a struct of strings and an integer cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut mac = mac(secret);
    mac.update(&payload);
    let tag = mac.finalize().into_bytes();
    format!("{VERSION}.{}.{}", hex(&payload), hex(&tag))
}

/// Verifies a token's signature and returns its claims; a malformed,
/// tampered or foreign token is [`Error::BadLink`].
pub(crate) fn verify(secret: &[u8], token: &str) -> Result<Claims> {
    let bad = |why: &str| Error::BadLink(format!("{why}; nothing was changed"));
    let mut parts = token.trim().split('.');
    let (Some(VERSION), Some(payload), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("this is not a botflow approval link"));
    };
    let payload = unhex(payload).ok_or_else(|| bad("this is not a botflow approval link"))?;
    let tag = unhex(tag).ok_or_else(|| bad("this is not a botflow approval link"))?;
    let mut mac = mac(secret);
    mac.update(&payload);
    mac.verify_slice(&tag)
        .map_err(|_| bad("this approval link's signature is not valid (forged, altered or from another deployment)"))?;
    serde_json::from_slice(&payload)
        .map_err(|_| bad("this approval link's contents cannot be read"))
}

/// The link for a token.
pub(crate) fn url(public_url: &str, token: &str) -> String {
    format!("{}/approve/{token}", public_url.trim_end_matches('/'))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            token_id: "abc".into(),
            approval_id: "run:3".into(),
            approver: "m@x.com".into(),
            action: "approve".into(),
            expires_at: 42,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_a_changed_one_does_not() {
        let token = sign(b"secret", &claims());
        assert_eq!(verify(b"secret", &token).ok(), Some(claims()));
        assert!(verify(b"other", &token).is_err());
        // Flip one payload digit: the mac no longer matches.
        let mut bytes = token.into_bytes();
        bytes[5] = if bytes[5] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap_or_default();
        assert!(verify(b"secret", &tampered).is_err());
        for junk in ["", "v1", "v1.zz.00", "v2.00.00", "v1.00.00.00"] {
            assert!(verify(b"secret", junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 127, 128, 255];
        assert_eq!(unhex(&hex(&bytes)), Some(bytes.to_vec()));
        assert_eq!(unhex("abc"), None);
    }
}
