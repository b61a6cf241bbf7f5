//! `yizhan catalog …` and `yizhan calendar …`: the catalog of service items and the working-day
//! calendar.

use super::Ctx;
use crate::output;
use anyhow::{Context as _, Result, anyhow};
use clap::Subcommand;
use std::path::Path;
use std::path::PathBuf;
use yizhan_node::catalog::Catalog;

#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// List service items.
    List,
    /// Replace the catalog with a JSON or CSV file (city only).
    Import {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CalendarCmd {
    /// Working days between two dates and the due date of a limit.
    Due {
        /// Acceptance date, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Working days.
        #[arg(long)]
        days: u32,
    },
}

/// Runs one `catalog` subcommand.
pub fn catalog(ctx: &Ctx, cmd: CatalogCmd) -> Result<()> {
    match cmd {
        CatalogCmd::List => {
            let node = ctx.open()?;
            output::catalog(node.catalog(), ctx.json)
        }
        CatalogCmd::Import { file } => {
            let catalog = read_catalog(&file)?;
            let mut node = ctx.open()?;
            node.import_catalog(&catalog)?;
            output::done(
                &format!("imported {} items from {}", catalog.len(), file.display()),
                ctx.json,
            )
        }
    }
}

/// Runs one `calendar` subcommand.
pub fn calendar(ctx: &Ctx, cmd: CalendarCmd) -> Result<()> {
    match cmd {
        CalendarCmd::Due { from, days } => {
            let node = ctx.open()?;
            let from = chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                .map_err(|_| anyhow!("invalid --from {from:?}: expected YYYY-MM-DD"))?;
            output::due(node.calendar(), from, days, ctx.json)
        }
    }
}

fn read_catalog(file: &Path) -> Result<Catalog> {
    Catalog::read_file(file).with_context(|| format!("{}", file.display()))
}
