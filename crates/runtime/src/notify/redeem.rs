//! Using a signed link: [`Runtime::redeem_link`]. The HTTP page that calls
//! it comes with the server (issue 6); `botflow approvals redeem` calls it
//! from a shell.

use store::{ApprovalRecord, ApprovalStatus, DecisionRefused, Store, TokenRedemption, check_token};

use super::links;
use crate::time::now_ms;
use crate::{Error, Result, Runtime};

/// What a link did, or would do.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkOutcome {
    /// The request, as it now stands.
    pub approval: ApprovalRecord,
    /// The approver the link speaks for.
    pub approver: String,
    /// `true` for an approve link, `false` for a deny link.
    pub approve: bool,
    /// Whether the decision was recorded now (`confirm`), or only previewed.
    pub decided: bool,
}

/// One approver's current links to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverLinks {
    /// The approver.
    pub approver: String,
    /// The approve link, while its token is unused, unrevoked and unexpired.
    pub approve: Option<String>,
    /// The deny link, likewise.
    pub deny: Option<String>,
}

impl Runtime {
    /// The signed links of a request's approvers as the notifications carry
    /// them (for the dashboard, and for an operator who resends them by
    /// other means). Spent, revoked and expired tokens give no link.
    pub async fn approval_links(&self, approval_id: &str) -> Result<Vec<ApproverLinks>> {
        let store = &self.inner.store;
        let Some(record) = store.approval(approval_id).await? else {
            return Err(Error::Approval(format!(
                "there is no approval request with id {approval_id:?}"
            )));
        };
        let settings = super::Settings::of(&self.inner, &self.bot_of(&record.run_id).await?);
        let secret = links::secret(&self.inner).await?;
        let tokens = store.approval_tokens(approval_id).await?;
        let now = now_ms();
        Ok(record
            .approvers
            .iter()
            .map(|who| {
                let link = |action: &str| {
                    tokens
                        .iter()
                        .find(|t| {
                            &t.approver == who
                                && t.action == action
                                && t.used_at.is_none()
                                && t.revoked_at.is_none()
                                && t.expires_at > now
                        })
                        .map(|t| {
                            links::url(
                                &settings.public_url,
                                &links::sign(&secret, &links::Claims::of(t)),
                            )
                        })
                };
                ApproverLinks {
                    approver: who.clone(),
                    approve: link("approve"),
                    deny: link("deny"),
                }
            })
            .collect())
    }

    /// The bot whose package holds a run's workflow (its config applies).
    async fn bot_of(&self, run: &str) -> Result<String> {
        let record = self
            .inner
            .store
            .run(run)
            .await?
            .ok_or_else(|| Error::UnknownRun(run.to_owned()))?;
        Ok(record.bot)
    }

    /// Uses an approve/deny link's token. The signature is checked first (a
    /// forged or altered token is [`Error::BadLink`]); then the stored token
    /// must be unused, not revoked by an escalation and not expired, and the
    /// decision must pass the usual rules (pending request, addressed
    /// approver, not the run's starter) — a refusal is a store
    /// `Refused` error and changes nothing.
    ///
    /// With `confirm` false nothing is written: the outcome says what the
    /// link would do (the page shows it before the person confirms). With
    /// `confirm` true the token is spent and the decision recorded in one
    /// transaction, which also makes the run due: drive it with
    /// [`run_to_end`](Self::run_to_end) or a worker.
    pub async fn redeem_link(
        &self,
        token: &str,
        confirm: bool,
        comment: Option<String>,
    ) -> Result<LinkOutcome> {
        let store = &self.inner.store;
        let secret = links::secret(&self.inner).await?;
        let claims = links::verify(&secret, token)?;
        let redemption = TokenRedemption {
            token_id: claims.token_id.clone(),
            approval_id: claims.approval_id.clone(),
            approver: claims.approver.clone(),
            action: claims.action.clone(),
            comment,
            now: now_ms(),
        };
        let approve = claims.action == "approve";
        if !confirm {
            let stored = store.approval_token(&claims.token_id).await?;
            check_token(stored, &redemption).map_err(store::Error::from)?;
            let approval = store.approval(&claims.approval_id).await?.ok_or_else(|| {
                store::Error::from(DecisionRefused::Unknown(claims.approval_id.clone()))
            })?;
            if approval.status != ApprovalStatus::Pending {
                let refused = match approval.status {
                    ApprovalStatus::Escalated => DecisionRefused::TokenRevoked(approval.id),
                    status => DecisionRefused::NotPending {
                        id: approval.id,
                        status,
                    },
                };
                return Err(Error::Store(refused.into()));
            }
            return Ok(LinkOutcome {
                approval,
                approver: claims.approver,
                approve,
                decided: false,
            });
        }
        let approval = store.redeem_token(redemption).await?;
        self.inner.wake();
        Ok(LinkOutcome {
            approval,
            approver: claims.approver,
            approve,
            decided: true,
        })
    }
}
