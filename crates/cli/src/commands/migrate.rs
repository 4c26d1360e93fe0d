//! `botflow migrate`: applies the database migrations explicitly and prints
//! the schema version before and after. Every command also migrates when it
//! opens the database; on PostgreSQL several nodes starting together take
//! turns (sqlx's migrator holds an advisory lock while it migrates).
//!
//! A database whose schema is newer than this botflow is refused and left
//! untouched (exit 1), like every command refuses it.

use std::process::ExitCode;

use anyhow::Context;

use crate::runner::{self, DbArgs};

/// Apply the database migrations and print the schema version.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    runner::block_on(async move {
        let url = &args.db.db;
        let before = store::schema_version(url)
            .await
            .with_context(|| format!("cannot read the schema version of {url}"))?;
        if let Some(found) = before
            && found > store::SCHEMA_VERSION
        {
            anyhow::bail!(
                "cannot migrate {url}: its schema is version {found}, newer than this botflow \
                 supports ({}); upgrade botflow. Nothing was changed",
                store::SCHEMA_VERSION
            );
        }
        let store = runner::open_store(&args.db).await?;
        store.close().await;
        let after = store::schema_version(url)
            .await
            .with_context(|| format!("cannot read the schema version of {url}"))?;
        let after = after.context("the migrations ran but recorded no schema version")?;
        match before {
            Some(before) if before == after => {
                outln!("schema version {after}: up to date")?;
            }
            Some(before) => outln!("schema version {before} -> {after}: migrated")?,
            None => outln!("schema version none (a new database) -> {after}: migrated")?,
        }
        Ok(ExitCode::SUCCESS)
    })
}
