//! The people of a demo county (issue #12): at every station an administrator and the person at
//! the window (a village's proxy agent, a hall's clerk); at the city and the townships a
//! supervisor (督办) and a reviewer for each department of the items that station decides. Every
//! account's password is [`DEMO_PASSWORD`], which the README gives.
//!
//! [`create`] runs on a station's store thread: it creates the accounts (the first one, the
//! administrator, in the station's first run), signs the window's person in as the node's
//! operator, and returns the sessions the county's stream of work acts with — the person at the
//! window, and each department's reviewer for its sign-offs — so that locking the window does
//! not stop the stream.

use std::collections::BTreeMap;
use yizhan_node::account::NewAccount;
use yizhan_node::role::Role;
use yizhan_node::station::Tier;
use yizhan_node::{Node, Session};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "1234";

/// The sessions a station's stream of work acts with.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The person at the window: the village's agent or the hall's clerk.
    pub window: Session,
    /// The window person's login.
    pub window_login: String,
    /// Reviewers by department.
    pub reviewers: BTreeMap<String, Session>,
}

impl Staff {
    /// The session that may take `action`: a department's reviewer for its sign-off, else the
    /// person at the window.
    pub fn for_action(&self, action: &yizhan_node::case::Action) -> &Session {
        use yizhan_node::case::Action;
        match action {
            Action::Approve { dept } | Action::Reject { dept, .. } => {
                self.reviewers.get(dept).unwrap_or(&self.window)
            }
            _ => &self.window,
        }
    }
}

/// A login for a department's reviewer: `review-1`, `review-2` … in the order of the departments.
fn reviewer_login(i: usize) -> String {
    format!("review-{}", i + 1)
}

/// Creates a station's demo accounts on its node (see the module documentation).
pub fn create(node: &mut Node, seed: u64) -> yizhan_node::Result<Staff> {
    let station = node.station()?.clone();
    let tier = station.tier();
    let surname = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
    let given = ["芳", "伟", "娜", "强", "敏", "静", "磊", "洋"];
    let k = usize::try_from(seed % 8).unwrap_or(0);
    let person = |i: usize| format!("{}{}", surname[(k + i) % 8], given[(k + 3 * i) % 8]);
    let add = |node: &mut Node, login: &str, name: String, role: Role, dept: &str| {
        node.add_account(
            &NewAccount {
                login: login.into(),
                name,
                phone: format!("0351-{:07}", 6_100_000 + seed * 100 + login.len() as u64),
                role: Some(role),
                dept: dept.into(),
                station: String::new(),
            },
            Some(DEMO_PASSWORD),
        )
    };
    add(node, "admin", person(0), Role::Admin, "")?;
    node.sign_in("admin", DEMO_PASSWORD)?;
    let (window_login, window_role) = match tier {
        Tier::Village => ("daiban", Role::Agent),
        _ => ("chuangkou", Role::Clerk),
    };
    add(node, window_login, person(1), window_role, "")?;
    let mut depts: Vec<String> = Vec::new();
    if tier != Tier::Village {
        add(node, "duban", person(2), Role::Supervisor, "")?;
        for item in node.catalog().items() {
            if item.tier == tier {
                for d in &item.departments {
                    if !depts.contains(d) {
                        depts.push(d.clone());
                    }
                }
            }
        }
        for (i, d) in depts.iter().enumerate() {
            add(node, &reviewer_login(i), person(3 + i), Role::Reviewer, d)?;
        }
    }
    let mut reviewers = BTreeMap::new();
    for (i, d) in depts.iter().enumerate() {
        reviewers.insert(
            d.clone(),
            node.open_session(&reviewer_login(i), DEMO_PASSWORD)?,
        );
    }
    let window = node.open_session(window_login, DEMO_PASSWORD)?;
    node.sign_in(window_login, DEMO_PASSWORD)?;
    Ok(Staff {
        window,
        window_login: window_login.into(),
        reviewers,
    })
}
