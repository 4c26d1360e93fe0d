//! `botflow tokens create|list|revoke`: the bearer tokens of the HTTP API
//! (`botflow serve`).
//!
//! A token's secret is printed once, by `create`, on stdout (so it can be
//! captured by a script) and is never stored: the database keeps only its
//! SHA-256, so neither `list` nor anything else can show it again. A lost
//! token is revoked and replaced. An unknown role or an unusable name is a
//! usage error (exit 2); revoking an unknown or revoked token fails (exit 1).
//! Nothing is written in either case.

use std::path::Path;
use std::process::ExitCode;

use runtime::ApiRole;
use store::ApiTokenRecord;

use crate::UsageError;
use crate::runner::{self, DbArgs};

/// Create, list and revoke the HTTP API's bearer tokens.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a token and print it once (it is stored only hashed).
    Create {
        /// What the token may do: admin, operator, approver or viewer.
        #[arg(long, value_name = "ROLE")]
        role: ApiRole,
        /// Who holds it; for an approver, the identity whose approvals it
        /// decides. Defaults to the role's name.
        #[arg(long, value_name = "WHO")]
        name: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the tokens, oldest first (never their secrets).
    List {
        /// Print one JSON array on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by its id: it authenticates nothing from now on (a
    /// running server, which remembers tokens for a second, within a second).
    Revoke {
        /// The token's id, as `botflow tokens list` shows it.
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Create { role, name, db } => runner::block_on(create(role, name, db)),
        Command::List { json, db } => runner::block_on(list(json, db)),
        Command::Revoke { id, db } => runner::block_on(revoke(id, db)),
    }
}

/// The runtime the token operations live on; they ask no bot, so no
/// deployment is loaded.
async fn open(db: &DbArgs) -> anyhow::Result<runtime::Runtime> {
    let store = runner::open_store(db).await?;
    runner::runtime(store, runtime::empty_deployment(Path::new(".")))
}

async fn create(role: ApiRole, name: Option<String>, db: DbArgs) -> anyhow::Result<ExitCode> {
    let name = name.unwrap_or_else(|| role.to_string());
    let rt = open(&db).await?;
    let created = rt.create_api_token(role, &name).await;
    rt.store().close().await;
    let (record, plaintext) = match created {
        Ok(created) => created,
        Err(error @ runtime::Error::ApiToken(_)) => {
            return Err(UsageError(error.to_string()).into());
        }
        Err(error) => return Err(error.into()),
    };
    outln!("{plaintext}")?;
    errln!(
        "created {} token {} for {:?}; the token above is shown only this once: \
         store it now (botflow keeps only its hash)",
        record.role,
        record.id,
        record.name
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(json: bool, db: DbArgs) -> anyhow::Result<ExitCode> {
    let rt = open(&db).await?;
    let tokens = rt.api_tokens().await;
    rt.store().close().await;
    let tokens = tokens?;
    if json {
        let rows: Vec<serde_json::Value> = tokens.iter().map(to_json).collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
    } else if tokens.is_empty() {
        errln!("no API tokens; create one with `botflow tokens create --role ROLE`");
    } else {
        outln!(
            "{:<20} {:<24} {:<9} {:<24} REVOKED",
            "ID",
            "NAME",
            "ROLE",
            "CREATED"
        )?;
        for t in &tokens {
            outln!(
                "{:<20} {:<24} {:<9} {:<24} {}",
                t.id,
                t.name,
                t.role,
                runner::time(t.created_at),
                t.revoked_at.map_or_else(|| "-".to_owned(), runner::time)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke(id: String, db: DbArgs) -> anyhow::Result<ExitCode> {
    let rt = open(&db).await?;
    let revoked = rt.revoke_api_token(&id).await;
    rt.store().close().await;
    let record = revoked.map_err(|e| anyhow::anyhow!("cannot revoke the token: {e}"))?;
    errln!(
        "revoked {} token {} ({:?}); a running server refuses it within a second",
        record.role,
        record.id,
        record.name
    );
    Ok(ExitCode::SUCCESS)
}

/// One token as the JSON listing shows it: never the secret nor its hash.
fn to_json(t: &ApiTokenRecord) -> serde_json::Value {
    serde_json::json!({
        "id": t.id, "name": t.name, "role": t.role,
        "created_at": t.created_at, "revoked_at": t.revoked_at,
    })
}
