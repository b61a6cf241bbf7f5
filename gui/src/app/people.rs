//! The people at a station (issue #12): signing in, locking and switching person, the station's
//! first administrator, and the administrator's list of accounts.
//!
//! - [`SignInPanel`] fills the main area while the station has accounts and nobody is signed in
//!   (after a lock, a switch, or at start): sync keeps running behind it. On a station's first run
//!   (no account yet) it asks for the first administrator instead, which may be put off for the
//!   session.
//! - [`PeoplePanel`] is the settings tab 人员: this station's and its child stations' accounts,
//!   adding one, disabling one, setting a password, and the idle time after which the window
//!   locks.
//!
//! Every change is an [`AccountEdit`] pushed as a command and run once on the store thread;
//! passwords live in the form only until the edit is submitted.

use super::widgets::field;
use super::*;
use crate::app::ui_ext::{UiExt as _, secret_edit, table};
use yizhan_node::account::{Account, NewAccount};
use yizhan_node::role::Role;

/// A change to who is signed in, or to the accounts, run on the store thread.
#[derive(Debug, Clone)]
pub enum AccountEdit {
    /// Sign a person in.
    SignIn {
        /// Login.
        login: String,
        /// Password or PIN.
        secret: String,
    },
    /// Sign the person out (lock or switch person).
    SignOut,
    /// Create an account (the first one of a station: its administrator) with a password
    /// (`None` for a child station's account, whose password is set there), then, for the
    /// first account, sign it in.
    Add {
        /// The account.
        new: NewAccount,
        /// Its password.
        secret: Option<String>,
        /// Sign it in afterwards (the first administrator).
        sign_in: bool,
    },
    /// Disable an account.
    Disable {
        /// Its station.
        station: String,
        /// Its login.
        login: String,
        /// Why.
        reason: String,
    },
    /// Set the password of an account of this station.
    Password {
        /// Its login.
        login: String,
        /// The new password.
        secret: String,
    },
    /// Set the idle minutes after which the window locks.
    LockMinutes(u32),
    /// Set (or, empty, clear) this station's phone for questions about progress.
    StationPhone(String),
}

impl AccountEdit {
    /// Runs the edit on the store thread.
    pub(super) fn run(self, n: &mut yizhan_node::Node) -> yizhan_node::Result<()> {
        match self {
            AccountEdit::SignIn { login, secret } => n.sign_in(&login, &secret).map(|_| ()),
            AccountEdit::SignOut => {
                n.sign_out();
                Ok(())
            }
            AccountEdit::Add {
                new,
                secret,
                sign_in,
            } => {
                n.add_account(&new, secret.as_deref())?;
                if let (true, Some(s)) = (sign_in, secret) {
                    n.sign_in(&new.login, &s)?;
                }
                Ok(())
            }
            AccountEdit::Disable {
                station,
                login,
                reason,
            } => n.disable_account(&station, &login, &reason).map(|_| ()),
            AccountEdit::Password { login, secret } => n.set_password(&login, &secret),
            AccountEdit::LockMinutes(m) => n.set_lock_minutes(m),
            AccountEdit::StationPhone(p) => n.set_station_phone("", Some(&p)),
        }
    }

    /// What was done, for the status bar.
    pub(super) fn done_text(&self, t: &Tr) -> String {
        match self {
            AccountEdit::SignIn { .. } => t.signed_in.to_string(),
            AccountEdit::SignOut => t.signed_out.to_string(),
            AccountEdit::Add { new, .. } => format!("{} {}", t.account_added, new.login),
            AccountEdit::Disable { login, .. } => format!("{} {login}", t.account_disabled),
            AccountEdit::Password { login, .. } => format!("{} {login}", t.password_set),
            AccountEdit::LockMinutes(_) | AccountEdit::StationPhone(_) => {
                t.settings_saved.to_string()
            }
        }
    }

    /// Whether the edit carries a password (the form is cleared once it is submitted).
    pub(super) fn has_secret(&self) -> bool {
        matches!(
            self,
            AccountEdit::SignIn { .. } | AccountEdit::Add { .. } | AccountEdit::Password { .. }
        )
    }
}

/// A role's name in the window's language.
pub fn role_name(t: &Tr, role: Option<Role>) -> &'static str {
    match role {
        Some(Role::Agent) => t.role_agent,
        Some(Role::Clerk) => t.role_clerk,
        Some(Role::Reviewer) => t.role_reviewer,
        Some(Role::Supervisor) => t.role_supervisor,
        Some(Role::Admin) => t.role_admin,
        None => t.role_unknown,
    }
}

/// "王芳（窗口人员）" or "李明（部门审核员 · 市场监管局）".
pub fn person_label(t: &Tr, a: &Account) -> String {
    if a.dept.is_empty() {
        format!("{}（{}）", a.name, role_name(t, a.role))
    } else {
        format!("{}（{} · {}）", a.name, role_name(t, a.role), a.dept)
    }
}

/// The form of a new account.
#[derive(Debug, Default)]
struct AccountForm {
    login: String,
    name: String,
    phone: String,
    role: Option<Role>,
    dept: String,
    station: String,
    secret: String,
    again: String,
}

impl AccountForm {
    /// Draws the fields; `first` fixes the role to administrator.
    fn ui(&mut self, ui: &mut egui::Ui, t: &Tr, first: bool, password: bool) {
        egui::Grid::new(("account-form", first))
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                ui.label(t.account_login);
                ui.add(egui::TextEdit::singleline(&mut self.login).desired_width(200.0));
                ui.end_row();
                ui.label(t.account_name);
                ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(200.0));
                ui.end_row();
                ui.label(t.account_phone);
                ui.add(egui::TextEdit::singleline(&mut self.phone).desired_width(200.0));
                ui.end_row();
                if !first {
                    ui.label(t.account_role);
                    ui.horizontal_wrapped(|ui| {
                        for r in Role::ALL {
                            if ui
                                .radio(self.role == Some(r), role_name(t, Some(r)))
                                .clicked()
                            {
                                self.role = Some(r);
                            }
                        }
                    });
                    ui.end_row();
                    if self.role == Some(Role::Reviewer) {
                        ui.label(t.account_dept);
                        ui.add(egui::TextEdit::singleline(&mut self.dept).desired_width(200.0));
                        ui.end_row();
                    }
                }
                if password {
                    ui.label(t.account_password);
                    ui.add(secret_edit(&mut self.secret, 200.0));
                    ui.end_row();
                    ui.label(t.account_password_again);
                    ui.add(secret_edit(&mut self.again, 200.0));
                    ui.end_row();
                }
            });
    }

    /// The edit, or what is wrong with the form before the node sees it.
    fn edit(&self, t: &Tr, first: bool, password: bool) -> Result<AccountEdit, &'static str> {
        if password && self.secret != self.again {
            return Err(t.password_mismatch);
        }
        Ok(AccountEdit::Add {
            new: NewAccount {
                login: self.login.trim().to_string(),
                name: self.name.trim().to_string(),
                phone: self.phone.trim().to_string(),
                role: if first { Some(Role::Admin) } else { self.role },
                dept: self.dept.trim().to_string(),
                station: self.station.clone(),
            },
            secret: password.then(|| self.secret.clone()),
            sign_in: first,
        })
    }

    fn clear_secrets(&mut self) {
        self.secret.clear();
        self.again.clear();
    }
}

/// The sign-in screen, and the first administrator's form on a station's first run.
#[derive(Debug, Default)]
pub struct SignInPanel {
    login: String,
    secret: String,
    first: AccountForm,
    /// The first administrator's form is open (from the first-run banner).
    first_run_open: bool,
    error: Option<String>,
}

impl SignInPanel {
    /// Whether the panel takes the main area: someone must sign in, or the first
    /// administrator's form was opened from the first-run banner.
    pub fn wanted(&self, info: &StationInfo) -> bool {
        (info.needs_sign_in && info.operator.is_none())
            || (!info.needs_sign_in && self.first_run_open)
    }

    /// On a station's first run, a line above every screen asks for the administrator.
    pub fn banner(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>) {
        if cx.info.needs_sign_in {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(egui::Color32::from_rgb(200, 110, 0), cx.t.first_run_title);
            if ui.button(cx.t.first_run_create).clicked() {
                self.first_run_open = true;
            }
        });
        ui.separator();
    }

    /// The node's answer to an edit this panel pushed.
    pub fn done(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.error = None;
                self.first = AccountForm::default();
                self.first_run_open = false;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// After a lock, the login of who was working is kept so they only type the password.
    pub fn locked(&mut self, login: &str) {
        self.login = login.to_string();
        self.secret.clear();
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let first_run = !cx.info.needs_sign_in;
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            ui.heading(&cx.info.station.name);
            ui.add_space(8.0);
            if first_run {
                ui.label(t.first_run_title);
                ui.label(egui::RichText::new(t.first_run_hint).weak());
            } else {
                ui.label(t.sign_in_title);
                ui.label(egui::RichText::new(t.sign_in_hint).weak());
            }
        });
        ui.add_space(12.0);
        ui.vertical_centered(|ui| {
            ui.set_max_width(420.0);
            if first_run {
                self.first.ui(ui, t, true, true);
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.enabled_button(!cx.writing, t.first_run_create) {
                        match self.first.edit(t, true, true) {
                            Ok(edit) => {
                                self.first.clear_secrets();
                                cx.commands.push(Command::Account(edit));
                            }
                            Err(e) => self.error = Some(e.to_string()),
                        }
                    }
                    if ui.button(t.first_run_later).clicked() {
                        self.first_run_open = false;
                    }
                });
            } else {
                let mut submit = false;
                egui::Grid::new("sign-in")
                    .num_columns(2)
                    .spacing([12.0, 6.0])
                    .show(ui, |ui| {
                        ui.label(t.account_login);
                        let login = ui
                            .add(egui::TextEdit::singleline(&mut self.login).desired_width(200.0));
                        ui.end_row();
                        ui.label(t.account_password);
                        let pw = ui.add(secret_edit(&mut self.secret, 200.0));
                        ui.end_row();
                        if self.login.is_empty() && !pw.has_focus() {
                            login.request_focus();
                        }
                        submit = pw.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    });
                ui.add_space(8.0);
                let button = ui.add_enabled(
                    !cx.writing && !self.login.trim().is_empty(),
                    egui::Button::new(t.sign_in),
                );
                if button.clicked() || submit {
                    cx.commands.push(Command::Account(AccountEdit::SignIn {
                        login: self.login.trim().to_string(),
                        secret: std::mem::take(&mut self.secret),
                    }));
                }
            }
            if let Some(e) = &self.error {
                ui.add_space(6.0);
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
    }
}

/// The settings tab 人员: the accounts of this station and of its child stations.
#[derive(Debug, Default)]
pub struct PeoplePanel {
    form: AccountForm,
    /// The account whose password is being set, and the new password twice.
    password: Option<(String, String, String)>,
    reason: String,
    lock_minutes: Option<String>,
    result: Option<Result<String, String>>,
}

impl PeoplePanel {
    /// The node's answer to an edit this panel pushed.
    pub fn done(&mut self, result: Result<String, String>) {
        if result.is_ok() {
            self.form = AccountForm::default();
            self.password = None;
            self.reason.clear();
        }
        self.result = Some(result);
    }

    /// Draws the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let admin = cx
            .info
            .operator
            .as_ref()
            .is_some_and(|a| a.role == Some(Role::Admin))
            || !cx.info.needs_sign_in;
        egui::ScrollArea::vertical()
            .id_salt("people")
            .show(ui, |ui| {
                ui.label(egui::RichText::new(t.people_hint).weak());
                ui.add_space(6.0);
                self.list(ui, cx, admin);
                ui.separator();
                if admin {
                    self.add_form(ui, cx);
                    ui.separator();
                } else {
                    ui.label(t.people_admin_only);
                }
                self.lock(ui, cx);
                if let Some(r) = &self.result {
                    match r {
                        Ok(text) => ui.label(text),
                        Err(e) => ui.colored_label(ui.visuals().error_fg_color, e),
                    };
                }
            });
    }

    fn list(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, admin: bool) {
        let t = cx.t;
        let me = cx.info.station.code.clone();
        let own = cx.info.operator.as_ref().map(|a| a.id.clone());
        table(
            ui,
            "people-list",
            [14.0, 6.0],
            &[
                t.account_station,
                t.account_login,
                t.account_name,
                t.account_role,
                t.account_state,
                "",
            ],
            |ui| {
                for a in &cx.info.people {
                    ui.label(cx.info.station_name(&a.station));
                    ui.label(&a.login);
                    ui.label(&a.name);
                    let role = if a.dept.is_empty() {
                        role_name(t, a.role).to_string()
                    } else {
                        format!("{} · {}", role_name(t, a.role), a.dept)
                    };
                    ui.label(role);
                    let state = if !a.enabled() {
                        t.account_state_disabled
                    } else if a.station == me && !cx.info.with_password.contains(&a.id) {
                        t.account_state_no_password
                    } else {
                        t.account_state_active
                    };
                    ui.label(state);
                    ui.horizontal(|ui| {
                        let mine = own.as_deref() == Some(a.id.as_str());
                        if a.enabled()
                            && a.station == me
                            && (admin || mine)
                            && ui.small_button(t.account_set_password).clicked()
                        {
                            self.password = Some((a.login.clone(), String::new(), String::new()));
                        }
                        if a.enabled()
                            && admin
                            && !mine
                            && ui.small_button(t.account_disable).clicked()
                        {
                            cx.commands.push(Command::Account(AccountEdit::Disable {
                                station: a.station.clone(),
                                login: a.login.clone(),
                                reason: self.reason.trim().to_string(),
                            }));
                        }
                    });
                    ui.end_row();
                }
            },
        );
        if admin {
            ui.horizontal(|ui| {
                field(ui, t.account_disable_reason, &mut self.reason, 260.0);
            });
        }
        let mut close = false;
        let mut mismatch = false;
        if let Some((login, secret, again)) = &mut self.password {
            ui.add_space(6.0);
            ui.horizontal_wrapped(|ui| {
                ui.strong(format!("{} {login}", t.account_set_password));
                ui.add(secret_edit(secret, 160.0).hint_text(t.account_password));
                ui.add(secret_edit(again, 160.0).hint_text(t.account_password_again));
                if ui.button(t.save).clicked() {
                    if secret == again {
                        cx.commands.push(Command::Account(AccountEdit::Password {
                            login: login.clone(),
                            secret: std::mem::take(secret),
                        }));
                        again.clear();
                    } else {
                        mismatch = true;
                    }
                }
                close = ui.button(t.cancel).clicked();
            });
        }
        if mismatch {
            self.result = Some(Err(t.password_mismatch.to_string()));
        }
        if close {
            self.password = None;
        }
    }

    fn add_form(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        ui.strong(t.account_new);
        // The station: this one, or one of its child stations (whose passwords are set there).
        let mut stations: Vec<(String, String)> =
            vec![(cx.info.station.code.clone(), cx.info.station.name.clone())];
        for s in &cx.info.stations {
            if s.parent == cx.info.station.code {
                stations.push((s.code.clone(), s.name.clone()));
            }
        }
        if self.form.station.is_empty() {
            self.form.station = cx.info.station.code.clone();
        }
        ui.horizontal(|ui| {
            ui.label(t.account_station);
            egui::ComboBox::from_id_salt("account-station")
                .selected_text(cx.info.station_name(&self.form.station))
                .show_ui(ui, |ui| {
                    for (code, name) in &stations {
                        ui.selectable_value(&mut self.form.station, code.clone(), name);
                    }
                });
        });
        let here = self.form.station == cx.info.station.code;
        self.form.ui(ui, t, false, here);
        if !here {
            ui.label(egui::RichText::new(t.account_password_elsewhere).weak());
        }
        if ui.enabled_button(!cx.writing, t.account_add) {
            match self.form.edit(t, false, here) {
                Ok(edit) => {
                    self.form.clear_secrets();
                    cx.commands.push(Command::Account(edit));
                }
                Err(e) => self.result = Some(Err(e.to_string())),
            }
        }
    }

    fn lock(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let minutes = self
            .lock_minutes
            .get_or_insert_with(|| cx.info.lock_minutes.to_string());
        ui.horizontal(|ui| {
            field(ui, t.lock_minutes, minutes, 60.0);
            ui.label(egui::RichText::new(t.lock_minutes_hint).weak());
            if ui.button(t.save).clicked() {
                match minutes.trim().parse::<u32>() {
                    Ok(m) => cx
                        .commands
                        .push(Command::Account(AccountEdit::LockMinutes(m))),
                    Err(_) => self.result = Some(Err(t.lock_minutes_invalid.to_string())),
                }
            }
        });
    }
}
