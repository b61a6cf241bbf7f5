//! The case list (the main screen): filters, search, sorting and a virtualized table.
//!
//! The list never holds all cases. It asks the node for the count of matching cases and for pages
//! of [`PAGE`] rows as the table scrolls to them; pages are cached and the cache is dropped when
//! the filter changes or the data version moves. Every request is tagged with the filter's
//! generation, so an answer for an old filter is ignored.

use super::task::Task;
use super::widgets::{field, light_tag};
use super::{Command, Cx};
use eframe::egui;
use egui_extras::{Column, TableBuilder};
use std::collections::{BTreeMap, BTreeSet};
use yizhan_node::case::Light;
use yizhan_node::case::deadline::ALL_LIGHTS;
use yizhan_node::case::fold::{ALL_STATUSES, Status};
use yizhan_node::query::{CaseFilter, CaseRow, Sort};

/// Rows per page fetched from the node.
const PAGE: usize = 200;
/// Pages kept in the cache (the ones nearest the view survive).
const MAX_PAGES: usize = 40;

/// What the user has chosen to see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterForm {
    /// Light.
    pub light: Option<Light>,
    /// Status.
    pub status: Option<Status>,
    /// Station area (code).
    pub area: Option<String>,
    /// Only cases this station holds now.
    pub mine: bool,
    /// Item code.
    pub item: Option<String>,
    /// What the search box holds: a case number, a name part, an ID or phone number or their
    /// last digits.
    pub search: String,
    /// Created on or after (YYYY-MM-DD).
    pub from: String,
    /// Created on or before (YYYY-MM-DD).
    pub to: String,
    /// Only conflicts.
    pub conflict: bool,
    /// Order.
    pub sort: SortKey,
}

/// [`Sort`] with `Eq` and a default, for the form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Newest first.
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Due date.
    Due,
}

/// A date as a clerk types it (`2026-12-06`, `2026-12-6`, `2026/12/06`, see
/// [`super::widgets::parse_date`]); empty means no bound, anything else unparsable is an error.
pub(super) fn parse_date(s: &str) -> Result<Option<chrono::NaiveDate>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    super::widgets::parse_date(s).map(Some).ok_or(())
}

impl FilterForm {
    fn to_filter(&self, holder: &str) -> CaseFilter {
        CaseFilter {
            status: self.status,
            light: self.light,
            area: self.area.clone(),
            holder: self.mine.then(|| holder.to_string()),
            item: self.item.clone(),
            search: Some(self.search.trim().to_string()).filter(|s| !s.is_empty()),
            conflict_only: self.conflict,
            created_from: parse_date(&self.from).ok().flatten(),
            created_to: parse_date(&self.to).ok().flatten(),
            sort: match self.sort {
                SortKey::Newest => Sort::Newest,
                SortKey::Oldest => Sort::Oldest,
                SortKey::Due => Sort::Due,
            },
            limit: PAGE,
            offset: 0,
            ..CaseFilter::default()
        }
    }
}

/// The case list panel.
#[derive(Debug, Default)]
pub struct ListPanel {
    form: FilterForm,
    /// The filter and data version the cache is for.
    cached_for: Option<(FilterForm, u64)>,
    generation: u64,
    count: Option<u64>,
    count_task: Task<u64>,
    pages: BTreeMap<usize, Vec<CaseRow>>,
    page_tasks: BTreeMap<usize, Task<Vec<CaseRow>>>,
    error: Option<String>,
}

impl ListPanel {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.count_task.busy() || self.page_tasks.values().any(Task::busy)
    }

    /// The rows fetched so far (for tests).
    pub fn rows(&self) -> impl Iterator<Item = &CaseRow> {
        self.pages.values().flatten()
    }

    fn poll(&mut self, t: &super::Tr) {
        if let Some((tag, r)) = self.count_task.poll()
            && tag == self.generation
        {
            match r {
                Ok(n) => self.count = Some(n),
                Err(e) => self.error = Some(t.node_error(&e)),
            }
        }
        let mut done = Vec::new();
        for (page, task) in &mut self.page_tasks {
            if let Some((tag, r)) = task.poll() {
                done.push((*page, tag, r));
            }
        }
        for (page, tag, r) in done {
            self.page_tasks.remove(&page);
            if tag != self.generation {
                continue;
            }
            match r {
                Ok(rows) => {
                    self.pages.insert(page, rows);
                }
                Err(e) => self.error = Some(t.node_error(&e)),
            }
        }
    }

    fn refetch_if_changed(&mut self, cx: &Cx<'_>) {
        let key = (self.form.clone(), cx.version);
        if self.cached_for.as_ref() == Some(&key) {
            return;
        }
        let same_filter = self
            .cached_for
            .as_ref()
            .is_some_and(|(f, _)| *f == self.form);
        self.cached_for = Some(key);
        self.generation += 1;
        // When only the data moved, the old rows stay on screen until the new ones arrive, so
        // the list does not flicker while sync brings cases in.
        if !same_filter {
            self.pages.clear();
            self.count = None;
        }
        self.page_tasks.clear();
        self.error = None;
        let filter = self.form.to_filter(&cx.info.station.code);
        let f = filter.clone();
        self.count_task
            .start(self.generation, cx.handle.submit(move |n| n.count(&f)));
        let keep: Vec<usize> = self.pages.keys().copied().collect();
        for page in keep
            .into_iter()
            .chain(std::iter::once(0))
            .collect::<BTreeSet<_>>()
        {
            self.request(page, &filter, cx);
        }
    }

    fn request(&mut self, page: usize, filter: &CaseFilter, cx: &Cx<'_>) {
        let mut f = filter.clone();
        f.offset = page * PAGE;
        let mut task = Task::default();
        task.start(self.generation, cx.handle.submit(move |n| n.list(&f)));
        self.page_tasks.insert(page, task);
    }

    /// Draws the filters and the table.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        self.poll(cx.t);
        self.filters(ui, cx);
        self.refetch_if_changed(cx);
        let t = cx.t;
        ui.horizontal(|ui| {
            match self.count {
                Some(n) => ui.label(format!("{} {n}", t.matching_cases)),
                None => ui.spinner(),
            };
            if let Some(e) = &self.error {
                super::widgets::error_line(ui, e);
            }
        });
        ui.separator();
        self.table(ui, cx);
    }

    fn filters(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let info = cx.info;
        ui.horizontal_wrapped(|ui| {
            let l = ui.label(t.search);
            ui.add(
                egui::TextEdit::singleline(&mut self.form.search)
                    .hint_text(t.search_hint)
                    .desired_width(260.0),
            )
            .labelled_by(l.id)
            .on_hover_text(t.search_hint);

            choice(
                ui,
                t.col_light,
                egui::ComboBox::from_id_salt("f-light")
                    .selected_text(self.form.light.map_or(t.all, |l| t.light(l))),
                &mut self.form.light,
                t.all,
                ALL_LIGHTS.map(|l| (l, t.light(l))),
            );
            choice(
                ui,
                t.col_status,
                egui::ComboBox::from_id_salt("f-status")
                    .selected_text(self.form.status.map_or(t.all, |s| t.status(s))),
                &mut self.form.status,
                t.all,
                ALL_STATUSES.map(|s| (s, t.status(s))),
            );
            let area_name = self
                .form
                .area
                .as_deref()
                .map_or_else(|| t.all.to_string(), |c| info.station_name(c));
            choice(
                ui,
                t.area,
                egui::ComboBox::from_id_salt("f-area")
                    .selected_text(area_name)
                    .width(180.0),
                &mut self.form.area,
                t.all,
                info.stations
                    .iter()
                    .map(|s| (s.code.clone(), s.name.clone())),
            );
            let item_name = self
                .form
                .item
                .as_deref()
                .and_then(|c| info.catalog.get(c))
                .map_or_else(|| t.all.to_string(), |i| i.name.clone());
            choice(
                ui,
                t.col_item,
                egui::ComboBox::from_id_salt("f-item")
                    .selected_text(item_name)
                    .width(200.0),
                &mut self.form.item,
                t.all,
                info.catalog
                    .items()
                    .map(|i| (i.code.clone(), format!("{} {}", i.code, i.name))),
            );
        });
        ui.horizontal_wrapped(|ui| {
            let from_bad = parse_date(&self.form.from).is_err();
            let to_bad = parse_date(&self.form.to).is_err();
            let today = cx.info.today;
            field(ui, t.created_from, &mut self.form.from, 90.0).on_hover_text(t.date_hint);
            super::date_picker::date_picker(ui, "list-from", &mut self.form.from, today, t);
            field(ui, t.created_to, &mut self.form.to, 90.0).on_hover_text(t.date_hint);
            super::date_picker::date_picker(ui, "list-to", &mut self.form.to, today, t);
            if from_bad || to_bad {
                super::widgets::error_line(ui, t.date_hint);
            }
            ui.checkbox(&mut self.form.mine, t.only_mine);
            ui.checkbox(&mut self.form.conflict, t.only_conflicts);
            let l = ui.label(t.sort);
            egui::ComboBox::from_id_salt("f-sort")
                .selected_text(match self.form.sort {
                    SortKey::Newest => t.sort_newest,
                    SortKey::Oldest => t.sort_oldest,
                    SortKey::Due => t.sort_due,
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.form.sort, SortKey::Newest, t.sort_newest);
                    ui.selectable_value(&mut self.form.sort, SortKey::Oldest, t.sort_oldest);
                    ui.selectable_value(&mut self.form.sort, SortKey::Due, t.sort_due);
                })
                .response
                .labelled_by(l.id);
            if ui.button(t.clear_filters).clicked() {
                self.form = FilterForm::default();
            }
            if ui.button(t.refresh).clicked() {
                cx.commands.push(Command::Refresh);
            }
        });
    }

    fn table(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let info = cx.info;
        let total = usize::try_from(self.count.unwrap_or(0)).unwrap_or(usize::MAX);
        let row_height = ui.spacing().interact_size.y + 4.0;
        let mut wanted: BTreeSet<usize> = BTreeSet::new();
        let mut open: Option<String> = None;
        let pages = &self.pages;
        TableBuilder::new(ui)
            .id_salt("cases")
            .striped(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            // The item and the holder share what is left after the fixed columns, so that every
            // column stays on screen down to the window's minimum width (the long names are
            // clipped, with the full text a hover away).
            .column(Column::exact(84.0))
            .column(Column::exact(150.0).clip(true))
            .column(Column::exact(84.0).clip(true))
            .column(Column::remainder().at_least(90.0).clip(true))
            .column(Column::exact(64.0).clip(true))
            .column(Column::remainder().at_least(80.0).clip(true))
            .column(Column::exact(84.0))
            .column(Column::exact(72.0))
            .header(row_height, |mut header| {
                for h in [
                    "",
                    t.col_number,
                    t.col_applicant,
                    t.col_item,
                    t.col_status,
                    t.col_holder,
                    t.col_due,
                    t.col_remaining,
                ] {
                    header.col(|ui| {
                        ui.strong(h);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, total, |mut row| {
                    let i = row.index();
                    let page = i / PAGE;
                    let Some(r) = pages.get(&page).and_then(|p| p.get(i % PAGE)) else {
                        wanted.insert(page);
                        row.col(|_| {});
                        row.col(|ui| {
                            ui.weak("…");
                        });
                        return;
                    };
                    let light = r.light.as_deref().and_then(Light::parse);
                    row.col(|ui| {
                        light_tag(ui, light, t);
                    });
                    row.col(|ui| {
                        let text = if r.conflict {
                            format!("{} ⚠", r.number)
                        } else {
                            r.number.clone()
                        };
                        if ui.link(text).clicked() {
                            open = Some(r.id.clone());
                        }
                    });
                    row.col(|ui| {
                        ui.label(&r.applicant);
                        if r.delegated {
                            ui.weak(t.delegated_short);
                        }
                    });
                    row.col(|ui| {
                        ui.label(&r.item_name)
                            .on_hover_text(format!("{} {}", r.item_code, r.item_name));
                    });
                    row.col(|ui| {
                        ui.label(
                            Status::parse(&r.status).map_or(r.status.as_str(), |s| t.status(s)),
                        );
                    });
                    row.col(|ui| {
                        let name = info.station_name(&r.holder);
                        ui.label(&name).on_hover_text(&name);
                    });
                    row.col(|ui| {
                        let due = r.due_on.as_deref().unwrap_or("—");
                        if r.due_provisional {
                            ui.label(format!("{due}{}", t.provisional_mark))
                                .on_hover_text(t.provisional_hint);
                        } else {
                            ui.label(due);
                        }
                    });
                    row.col(|ui| {
                        let running = r.status == Status::Accepted.as_str();
                        let remaining = r
                            .due_on
                            .as_deref()
                            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                            .filter(|_| running)
                            .map(|d| info.calendar.working_days_between(info.today, d));
                        match remaining {
                            Some(n) if n < 0 => {
                                ui.colored_label(
                                    super::widgets::light_color(Light::Red, ui.visuals()),
                                    format!("{} {}", t.overdue_by, -n),
                                );
                            }
                            Some(n) => {
                                ui.label(n.to_string());
                            }
                            None => {
                                ui.weak("—");
                            }
                        }
                    });
                    if row.response().clicked() {
                        open = Some(r.id.clone());
                    }
                });
            });
        if let Some(id) = open {
            cx.commands.push(Command::OpenCase(id));
        }
        if !wanted.is_empty() {
            let filter = self.form.to_filter(&cx.info.station.code);
            for page in wanted {
                if !self.page_tasks.contains_key(&page) {
                    self.request(page, &filter, cx);
                }
            }
            self.evict(&self.page_tasks.keys().copied().collect::<Vec<_>>());
        }
    }

    /// Drops the pages farthest from the ones being looked at, beyond [`MAX_PAGES`].
    fn evict(&mut self, near: &[usize]) {
        let Some(&centre) = near.first() else { return };
        while self.pages.len() > MAX_PAGES {
            let far = self
                .pages
                .keys()
                .copied()
                .max_by_key(|p| p.abs_diff(centre));
            match far {
                Some(p) => {
                    self.pages.remove(&p);
                }
                None => break,
            }
        }
    }
}

/// A filter of the list: a labelled drop-down of `all` (no filter, `None`) and each option's
/// value with its text. `combo` comes with its id, width and the current choice's text.
fn choice<T: PartialEq, L: Into<egui::WidgetText>>(
    ui: &mut egui::Ui,
    label: &str,
    combo: egui::ComboBox<'_>,
    value: &mut Option<T>,
    all: &str,
    options: impl IntoIterator<Item = (T, L)>,
) {
    let l = ui.label(label);
    combo
        .show_ui(ui, |ui| {
            ui.selectable_value(value, None, all);
            for (v, text) in options {
                ui.selectable_value(value, Some(v), text);
            }
        })
        .response
        .labelled_by(l.id);
}
