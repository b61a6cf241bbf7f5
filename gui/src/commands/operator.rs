//! `yizhan operator …`: the station's operator accounts (issue #12).
//!
//! Passwords never appear on the command line (where `ps` and the shell history would keep
//! them): the signed-in operator's comes from `YIZHAN_PASSWORD`, a new or changed one from
//! `YIZHAN_NEW_PASSWORD` (in a station's first run, when nobody signs in, `YIZHAN_PASSWORD` too),
//! or else each is typed at a prompt on a terminal.

use super::Ctx;
use crate::output;
use anyhow::{Result, anyhow};
use clap::Subcommand;
use serde_json::json;
use std::io::IsTerminal as _;
use yizhan_node::Node;
use yizhan_node::account::{Account, NewAccount};
use yizhan_node::role::Role;

#[derive(Debug, Subcommand)]
pub enum OperatorCmd {
    /// Create an account (a station's first account must be its administrator).
    Add {
        /// Login name (letters, digits, '.', '-', '_').
        #[arg(long)]
        login: String,
        /// The person's name.
        #[arg(long)]
        name: String,
        /// agent (代办员), clerk (窗口人员), reviewer (部门审核员), supervisor (督办人员) or admin
        /// (管理员).
        #[arg(long, value_parser = ["agent", "clerk", "reviewer", "supervisor", "admin"])]
        role: String,
        /// For a reviewer: the department it signs for.
        #[arg(long)]
        dept: Option<String>,
        /// Work phone (printed on a delegated case's receipt).
        #[arg(long)]
        phone: Option<String>,
        /// The account's station (default: this one; a child station for its administrator
        /// from here — its password is then set at that station).
        #[arg(long, value_name = "CODE")]
        station: Option<String>,
    },
    /// This station's accounts (with --station, a child station's).
    List {
        /// Another station's accounts, as held here.
        #[arg(long, value_name = "CODE")]
        station: Option<String>,
    },
    /// Disable an account: its events made after now are flagged wherever they arrive.
    Disable {
        /// The login.
        login: String,
        /// The account's station (default: this one).
        #[arg(long, value_name = "CODE")]
        station: Option<String>,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Set an account's password (its administrator, or the person for their own).
    Password {
        /// The login.
        login: String,
    },
}

/// A password from the environment variable `var`, or typed at a prompt on a terminal.
pub fn secret(var: &str, prompt: &str) -> Result<String> {
    if let Ok(v) = std::env::var(var)
        && !v.is_empty()
    {
        return Ok(v);
    }
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!(
            "no password: set {var}, or run the command on a terminal to type it"
        ));
    }
    Ok(rpassword::prompt_password(prompt)?)
}

/// The password of a new or changed account: `YIZHAN_NEW_PASSWORD`, or in a first run (nobody
/// signed in) `YIZHAN_PASSWORD`, or a prompt.
fn new_secret(node: &Node) -> Result<String> {
    if node.signed_in().is_none()
        && let Ok(v) = std::env::var("YIZHAN_PASSWORD")
        && !v.is_empty()
    {
        return Ok(v);
    }
    secret("YIZHAN_NEW_PASSWORD", "新密码 / new password: ")
}

/// Says what became of account `a`: its JSON with `--json`, else `account <what>:` and its line.
fn said(ctx: &Ctx, what: &str, a: &Account, node: &Node) -> Result<()> {
    if ctx.json {
        outln!("{}", account_json(a, node));
        return Ok(());
    }
    output::done(&format!("account {what}: {}", account_line(a, node)), false)
}

fn account_json(a: &Account, node: &Node) -> serde_json::Value {
    json!({
        "id": a.id,
        "login": a.login,
        "name": a.name,
        "phone": a.phone,
        "role": a.role_name,
        "dept": a.dept,
        "station": a.station,
        "enabled": a.enabled(),
        "disabled_at": a.disabled_at,
        "password_here": node.has_password(&a.id),
    })
}

fn account_line(a: &Account, node: &Node) -> String {
    let role = a
        .role
        .map_or_else(|| a.role_name.clone(), |r| r.label_zh().to_string());
    let dept = if a.dept.is_empty() {
        String::new()
    } else {
        format!("（{}）", a.dept)
    };
    let state = match a.disabled_at {
        Some(at) => format!("已停用 {}", yizhan_node::clock::format_ms(at)),
        None if a.station == node.identity().station && !node.has_password(&a.id) => {
            "未设密码".to_string()
        }
        None => "在用".to_string(),
    };
    format!(
        "{:<16} {:<8} {}{} {} {}",
        a.login, a.name, role, dept, a.station, state
    )
}

/// Runs one `operator` subcommand.
pub fn run(ctx: &Ctx, cmd: OperatorCmd) -> Result<()> {
    let mut node = ctx.open()?;
    match cmd {
        OperatorCmd::Add {
            login,
            name,
            role,
            dept,
            phone,
            station,
        } => {
            let station = station.unwrap_or_default();
            let here = station.is_empty() || station == node.identity().station;
            let secret = if here { Some(new_secret(&node)?) } else { None };
            let a = node.add_account(
                &NewAccount {
                    login,
                    name,
                    phone: phone.unwrap_or_default(),
                    role: Role::parse(&role),
                    dept: dept.unwrap_or_default(),
                    station,
                },
                secret.as_deref(),
            )?;
            said(ctx, "added", &a, &node)
        }
        OperatorCmd::List { station } => {
            let station = station.unwrap_or_else(|| node.identity().station.clone());
            let accounts: Vec<Account> = node
                .accounts()
                .of_station(&station)
                .into_iter()
                .cloned()
                .collect();
            if ctx.json {
                let rows: Vec<_> = accounts.iter().map(|a| account_json(a, &node)).collect();
                outln!("{}", json!({ "station": station, "accounts": rows }));
                return Ok(());
            }
            if accounts.is_empty() {
                outln!("站点 {station} 还没有操作员账号");
            }
            for a in &accounts {
                outln!("{}", account_line(a, &node));
            }
            Ok(())
        }
        OperatorCmd::Disable {
            login,
            station,
            reason,
        } => {
            let a = node.disable_account(&station.unwrap_or_default(), &login, &reason)?;
            said(ctx, "disabled", &a, &node)
        }
        OperatorCmd::Password { login } => {
            let secret = new_secret(&node)?;
            node.set_password(&login, &secret)?;
            output::done(&format!("password set for {login}"), ctx.json)
        }
    }
}
