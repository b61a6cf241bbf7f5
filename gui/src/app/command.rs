//! What the window's panels ask for: the screens, and the [`Command`] values a panel pushes
//! instead of acting on the spot (applied once, at the end of the frame, by [`super::App`]).

use super::{Lang, Tr};
use yizhan_node::NewCase;
use yizhan_node::calendar::YearRule;
use yizhan_node::case::Action;
use yizhan_node::catalog::ServiceItem;
use yizhan_node::network::Settings;

/// The screens of the main area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The inbox (待办): what needs this station now; the window opens on it.
    Inbox,
    /// The case list, or one case's detail when a case is open.
    Cases,
    /// Intake (收件 / 代办登记).
    Intake,
    /// The consolidated dashboard.
    Dashboard,
    /// Peers and sync state.
    Sync,
    /// Settings.
    Settings,
}

/// A view the window opens on instead of the case list, once what it needs has loaded. The
/// screenshot script sets it through `YIZHAN_SCREEN` so that it does not depend on where buttons
/// happen to be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartView {
    /// A screen of the top bar.
    Screen(Screen),
    /// The detail of a case from the list (an accepted one when there is one, so that the
    /// timeline and the actions have something to show).
    FirstCase,
    /// A part of the settings screen (with an item chosen in the catalog editor, so that its
    /// form is shown).
    Settings(SettingsTab),
    /// The sign-in screen: the window locked, as after 锁定 or the idle time.
    SignIn,
}

impl StartView {
    /// `inbox`, `cases`, `detail`, `intake`, `dashboard`, `sync`, `settings`,
    /// `settings-catalog`, `settings-calendar`, `settings-people` or `signin`.
    pub fn parse(s: &str) -> Option<StartView> {
        Some(match s.trim() {
            "inbox" => StartView::Screen(Screen::Inbox),
            "cases" | "list" => StartView::Screen(Screen::Cases),
            "detail" => StartView::FirstCase,
            "intake" => StartView::Screen(Screen::Intake),
            "dashboard" => StartView::Screen(Screen::Dashboard),
            "sync" => StartView::Screen(Screen::Sync),
            "settings" => StartView::Screen(Screen::Settings),
            "settings-catalog" => StartView::Settings(SettingsTab::Catalog),
            "settings-calendar" => StartView::Settings(SettingsTab::Calendar),
            "settings-people" => StartView::Settings(SettingsTab::People),
            "settings-templates" => StartView::Settings(SettingsTab::Templates),
            "signin" => StartView::SignIn,
            _ => return None,
        })
    }
}

/// The parts of the settings screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SettingsTab {
    /// Language, operator, font and the network settings.
    #[default]
    General,
    /// The catalog: import, and items added, changed, retired or deleted one by one.
    Catalog,
    /// The working-day calendar's years.
    Calendar,
    /// The operator accounts (人员).
    People,
    /// The notice templates (短信模板).
    Templates,
}

/// A change to a network document (city only) made from the settings screen, one item or one
/// calendar year at a time, so that two city clerks editing different items or years at once do
/// not undo each other's work when their changes merge.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkEdit {
    /// Add a new catalog item.
    AddItem(ServiceItem),
    /// Replace a catalog item (found by its code).
    UpdateItem(ServiceItem),
    /// Retire a catalog item or bring it back.
    RetireItem {
        /// The item's code.
        code: String,
        /// Retired or not.
        retired: bool,
    },
    /// Delete a catalog item no case uses.
    RemoveItem(String),
    /// Set one calendar year's holidays and make-up working days.
    SetYear {
        /// The year.
        year: i32,
        /// Its rule.
        rule: YearRule,
    },
    /// Change a notice template (`None`: back to the default).
    SetTemplate {
        /// Which notice.
        kind: yizhan_node::notice::NoticeKind,
        /// The new text.
        text: Option<String>,
    },
}

impl NetworkEdit {
    /// Runs the edit on the store thread.
    pub(super) fn run(self, n: &mut yizhan_node::Node) -> yizhan_node::Result<()> {
        match self {
            NetworkEdit::AddItem(item) => n.add_item(item),
            NetworkEdit::UpdateItem(item) => n.update_item(item),
            NetworkEdit::RetireItem { code, retired } => n.set_item_retired(&code, retired),
            NetworkEdit::RemoveItem(code) => n.remove_item(&code),
            NetworkEdit::SetYear { year, rule } => n.set_calendar_year(year, rule),
            NetworkEdit::SetTemplate { kind, text } => n.set_notice_template(kind, text.as_deref()),
        }
    }

    /// What was done, for the status bar.
    pub(super) fn done_text(&self, t: &Tr) -> String {
        match self {
            NetworkEdit::AddItem(i) => format!("{} {}", t.edit_added, i.code),
            NetworkEdit::UpdateItem(i) => format!("{} {}", t.edit_saved, i.code),
            NetworkEdit::RetireItem {
                code,
                retired: true,
            } => format!("{} {code}", t.edit_retired),
            NetworkEdit::RetireItem { code, .. } => format!("{} {code}", t.edit_restored),
            NetworkEdit::RemoveItem(code) => format!("{} {code}", t.edit_removed),
            NetworkEdit::SetYear { year, .. } => format!("{} {year}", t.edit_year),
            NetworkEdit::SetTemplate {
                kind,
                text: Some(_),
            } => {
                format!("{}{}", t.templates_saved, kind.label_zh())
            }
            NetworkEdit::SetTemplate { kind, text: None } => {
                format!("{}{}", t.templates_restored, kind.label_zh())
            }
        }
    }
}

/// Something the user asked for; applied once per frame, after drawing.
#[derive(Debug, Clone)]
pub enum Command {
    /// Show another station.
    SwitchStation(usize),
    /// Show another screen.
    Show(Screen),
    /// Open a case (id or number) in the detail view.
    OpenCase(String),
    /// Back from the detail view to the list.
    CloseCase,
    /// Apply an action to a case at the current station.
    Act {
        /// Case id.
        case: String,
        /// What to do.
        action: Action,
    },
    /// Take in a new case at the current station.
    Intake(NewCase),
    /// Take in a new case and forward it to this station (登记并上报, a village's intake of an
    /// item decided higher up).
    IntakeAndForward(NewCase, String),
    /// Switch the language.
    SetLang(Lang),
    /// Replace the network settings (city only).
    SaveSettings(Settings),
    /// Change the catalog or the calendar (city only).
    EditNetwork(NetworkEdit),
    /// Change the operator name recorded on events (a station without accounts).
    SetOperator(String),
    /// Sign in or out, or change the accounts.
    Account(super::people::AccountEdit),
    /// Lock the window: the person is signed out, their login kept for the sign-in form.
    Lock,
    /// Cut or restore a demo county link.
    SetLink {
        /// The link id.
        id: usize,
        /// Up or down.
        up: bool,
    },
    /// Start or stop the demo county's stream of applications.
    SetStreaming(bool),
    /// "Sync now" with one peer (its node id) or with every peer.
    SyncNow(Option<String>),
    /// Save this node's own sync settings (where it listens, discovery); the engine restarts
    /// with them.
    SaveSyncConfig(
        yizhan_node::replica::SyncConfig,
        super::settings::LocalConfig,
    ),
    /// Open a part of the settings screen.
    OpenSettings(SettingsTab),
    /// Fetch everything again.
    Refresh,
}
