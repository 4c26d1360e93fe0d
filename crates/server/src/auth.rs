//! Bearer-token authentication and the role each route needs.
//!
//! A handler names what it needs by its first argument, `Auth<P>` for a
//! [`Policy`] `P`; the extractor runs before the body is read, so a refused
//! request is refused before anything is parsed or changed:
//! no or unknown token → `401` with `WWW-Authenticate: Bearer`, a role the
//! policy does not allow → `403`.
//!
//! | policy | admin | operator | approver | viewer |
//! |---|---|---|---|---|
//! | [`Read`] (GET of runs, events, workflows, bots) | ✓ | ✓ | | ✓ |
//! | [`Operate`] (start, cancel, retry, messages, publish) | ✓ | ✓ | | |
//! | [`Approvals`] (list and read approval requests) | ✓ | ✓ | own only | ✓ |
//! | [`Decide`] (decide an approval request) | ✓ | | own only | |
//! | [`AnyRole`] (`/metrics`, `POST /v1/check`) | ✓ | ✓ | ✓ | ✓ |
//!
//! An approver's identity is its token's `name`: the address that appears
//! in an approval's approvers list. Tokens are checked by the runtime
//! ([`runtime::Runtime::authenticate`]), which owns their storage.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
pub use runtime::{ApiPrincipal as Principal, ApiRole as Role};

use crate::AppState;
use crate::problem::{Kind, Problem};

/// Which roles may use a route.
pub trait Policy: Send + Sync + 'static {
    /// What the policy is about, for the `403` message.
    const WHAT: &'static str;
    /// Whether `role` may use the route.
    fn allows(role: &Role) -> bool;
}

/// Reading runs, events, workflows and bots.
#[derive(Debug)]
pub struct Read;
/// Changing runs and events.
#[derive(Debug)]
pub struct Operate;
/// Listing and reading approval requests (an approver sees its own only).
#[derive(Debug)]
pub struct Approvals;
/// Deciding approval requests (an approver decides its own only).
#[derive(Debug)]
pub struct Decide;
/// Anything any valid token may do.
#[derive(Debug)]
pub struct AnyRole;

impl Policy for Read {
    const WHAT: &'static str = "read runs, events, workflows and bots";
    fn allows(role: &Role) -> bool {
        matches!(role, Role::Admin | Role::Operator | Role::Viewer)
    }
}

impl Policy for Operate {
    const WHAT: &'static str = "start, cancel, retry or message runs, or publish events";
    fn allows(role: &Role) -> bool {
        matches!(role, Role::Admin | Role::Operator)
    }
}

impl Policy for Approvals {
    const WHAT: &'static str = "read approval requests";
    fn allows(_role: &Role) -> bool {
        true
    }
}

impl Policy for Decide {
    const WHAT: &'static str = "decide approval requests";
    fn allows(role: &Role) -> bool {
        matches!(role, Role::Admin | Role::Approver)
    }
}

impl Policy for AnyRole {
    const WHAT: &'static str = "use this route";
    fn allows(_role: &Role) -> bool {
        true
    }
}

/// The caller, authenticated and allowed by policy `P`.
#[derive(Debug)]
pub struct Auth<P> {
    /// Who holds the token.
    pub principal: Principal,
    policy: PhantomData<P>,
}

impl<P> Auth<P> {
    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        matches!(self.principal.role, Role::Admin)
    }

    /// Whether the caller is an approver (who sees only requests addressed to it).
    pub fn is_approver(&self) -> bool {
        matches!(self.principal.role, Role::Approver)
    }

    /// The caller's identity: recorded as who started a run or decided a request.
    pub fn name(&self) -> &str {
        &self.principal.name
    }
}

impl<P: Policy> FromRequestParts<AppState> for Auth<P> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = authenticate(parts, state).await?;
        if !P::allows(&principal.role) {
            return Err(Problem::new(
                Kind::Forbidden,
                format!(
                    "a token with role {} may not {}; nothing was changed",
                    principal.role,
                    P::WHAT
                ),
            ));
        }
        Ok(Auth {
            principal,
            policy: PhantomData,
        })
    }
}

/// The holder of the request's bearer token, or a `401` problem.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, Problem> {
    let bearer = bearer(parts).ok_or_else(|| {
        Problem::new(
            Kind::Unauthorized,
            "send `Authorization: Bearer <token>`; `botflow tokens create` makes one",
        )
    })?;
    state
        .runtime()
        .authenticate(bearer)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::new(Kind::Unauthorized, "the bearer token is unknown or revoked"))
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
