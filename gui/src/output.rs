//! Printing results: short human-readable text by default, JSON with `--json`.
//!
//! Personal data: ID numbers and phones are masked in every output; the full values stay in the
//! document and are shown only where a clerk needs them (the window's case form).

use anyhow::Result;
use chrono::NaiveDate;
use serde_json::{Value, json};
use std::path::Path;
use yizhan_node::calendar::Calendar;
use yizhan_node::case::action::Action;
use yizhan_node::case::fold::Status;
use yizhan_node::catalog::Catalog;
use yizhan_node::clock::format_ms;
use yizhan_node::idcard::mask_id_number;
use yizhan_node::network::Roster;
use yizhan_node::query::{CaseRow, RankRow, Stats};
use yizhan_node::{CaseView, Node};

/// `s` padded with spaces to `width` columns of a terminal, counting a Chinese character as two
/// (unicode-width), so that columns of Chinese text line up.
fn pad(s: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// Lines of cells, each column padded to its widest cell (the last one not padded).
fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| unicode_width::UnicodeWidthStr::width(s.as_str()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if i + 1 == r.len() {
                        s.clone()
                    } else {
                        pad(s, widths[i])
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// A station's name from the roster held here, or its code when it is not in it.
pub fn station_name(roster: &Roster, code: &str) -> String {
    roster
        .stations
        .get(code)
        .map_or_else(|| code.to_string(), |s| s.name.clone())
}

/// Printed after a due date that is provisional (counted into a year without a calendar rule).
const PROVISIONAL_MARK: &str = "（暂定）";

fn print_json(v: &Value) -> Result<()> {
    outln!("{}", serde_json::to_string(v)?);
    Ok(())
}

/// A plain confirmation.
pub fn done(message: &str, json: bool) -> Result<()> {
    if json {
        print_json(&json!({ "ok": true, "message": message }))
    } else {
        outln!("{message}");
        Ok(())
    }
}

/// `init` and `status`.
pub fn status(node: &Node, data: &Path, json: bool) -> Result<()> {
    let id = node.identity();
    let station = node.station()?;
    let roster = node.roster();
    if json {
        return print_json(&json!({
            "node_id": id.node_id,
            "station": station.code,
            "station_name": station.name,
            "tier": station.tier,
            "network_id": id.network_id,
            "network": roster.network_name,
            "data": data.display().to_string(),
            "stations": roster.stations.len(),
            "catalog_items": node.catalog().len(),
            "seq": node.seq()?,
            "clock_offset_ms": node.clock_offset().map(|o| o.offset_ms),
            "clock_warning": node.clock_offset().is_some_and(|o| o.warns()),
            "peers": node.peers()?.iter().map(|p| json!({
                "node_id": p.node_id,
                "station": p.station,
                "addrs": p.addrs,
                "last_contact": p.last_contact.map(format_ms),
                "last_error": p.last_error,
                "received_seq": p.received_seq,
                "acked_seq": p.acked_seq,
                "pending": node.pending_for(p).ok(),
            })).collect::<Vec<_>>(),
        }));
    }
    outln!("网络 network: {} ({})", roster.network_name, id.network_id);
    outln!(
        "站点 station: {} {} [{}]",
        station.code,
        station.name,
        station.tier().label_zh()
    );
    outln!("节点 node:    {}", id.node_id);
    outln!("数据 data:    {}", data.display());
    // The peers by station name, as the README says: when each was last in contact, and what
    // it has not been sent yet.
    let peers = node.peers()?;
    if peers.is_empty() {
        outln!("同步 peers:   无（尚未与其他站点联系）");
    } else {
        outln!("同步 peers:");
        let rows: Vec<Vec<String>> = peers
            .iter()
            .map(|p| {
                let name = if p.station.is_empty() {
                    yizhan_node::cert::short(&p.node_id).to_string()
                } else {
                    station_name(roster, &p.station)
                };
                vec![
                    format!("  {name}"),
                    format!(
                        "最后联系 {}",
                        p.last_contact.map_or("从未".to_string(), format_ms)
                    ),
                    format!(
                        "待发送 {} 件",
                        node.pending_for(p)
                            .map_or("-".to_string(), |n| n.to_string())
                    ),
                    p.last_error
                        .as_ref()
                        .map(|e| format!("⚠ {e}"))
                        .unwrap_or_default(),
                ]
            })
            .collect();
        for line in table(&rows) {
            outln!("{line}");
        }
    }
    if let Some(o) = node.clock_offset().filter(|o| o.warns()) {
        let (d, h, m) = o.days_hours_minutes();
        let (zh, en) = if o.fast() {
            ("快", "fast")
        } else {
            ("慢", "slow")
        };
        outln!(
            "时钟 clock:   本机时钟比市中心{zh} {d}天{h}小时{m}分，办件时间已按市中心时间记录，请校正电脑时间 / this computer's clock is {d} d {h} h {m} min {en} against the city's; dates are recorded by the city's time: set the clock"
        );
    }
    Ok(())
}

/// `station list`.
pub fn stations(
    roster: &Roster,
    accounts: &yizhan_node::account::Directory,
    json: bool,
) -> Result<()> {
    if json {
        let list: Vec<Value> = roster
            .stations
            .values()
            .map(|s| {
                json!({
                    "code": s.code,
                    "name": s.name,
                    "tier": s.tier,
                    "parent": s.parent,
                    "phone": accounts.station_phone(&s.code),
                })
            })
            .collect();
        return print_json(&Value::Array(list));
    }
    for s in roster.stations.values() {
        let tier = s.tier.label_zh();
        // The consultation phone is known here only for stations whose accounts this node
        // holds (its own, its descendants and its ancestors).
        let phone = accounts
            .station_phone(&s.code)
            .map_or_else(String::new, |p| format!(" 咨询电话 {p}"));
        outln!(
            "{:<12} {:<8} {} (上级 {}){phone}",
            s.code,
            tier,
            s.name,
            if s.parent.is_empty() { "-" } else { &s.parent }
        );
    }
    Ok(())
}

/// `catalog list`.
pub fn catalog(catalog: &Catalog, json: bool) -> Result<()> {
    if json {
        return print_json(&serde_json::to_value(catalog.items().collect::<Vec<_>>())?);
    }
    for i in catalog.items() {
        let depts = if i.departments.is_empty() {
            String::new()
        } else {
            format!(" 并联: {}", i.departments.join("、"))
        };
        outln!(
            "{:<8} {:<4} {} 法定{}日 承诺{}日 [{}]{}{}",
            i.code,
            i.kind.label_zh(),
            i.name,
            i.legal_days,
            i.promised_days,
            i.tier.label_zh(),
            depts,
            if i.retired {
                " (已停用 retired)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// `calendar due`.
pub fn due(calendar: &Calendar, from: NaiveDate, days: u32, json: bool) -> Result<()> {
    let due = calendar.add_working_days(from, days);
    let provisional = !calendar.covers_span(from, due);
    if json {
        return print_json(&json!({
            "from": from.to_string(), "days": days, "due": due.to_string(), "provisional": provisional,
        }));
    }
    let mark = if provisional { PROVISIONAL_MARK } else { "" };
    outln!("{from} 起 {days} 个工作日，到期 {due}{mark}");
    Ok(())
}

/// The acknowledgement of `case new`: printed only after the case is committed.
pub fn created(view: &CaseView, json: bool) -> Result<()> {
    if json {
        return print_json(&json!({
            "event": "created",
            "id": view.doc.id,
            "number": view.doc.number,
            "item": view.doc.item.code,
            "status": view.state.status.as_str(),
        }));
    }
    // The case number is what a clerk reads out; the id stays in `--json`.
    outln!(
        "{}  {}  {}",
        view.doc.number,
        view.doc.item.name,
        view.state.status.label_zh()
    );
    Ok(())
}

fn status_label(s: &str) -> String {
    Status::parse(s).map_or_else(|| s.to_string(), |st| st.label_zh().to_string())
}

/// `case list`: one line per case, columns aligned by display width, the light and status in
/// words, the holder by name.
pub fn list(rows: &[CaseRow], total: u64, roster: &Roster, json: bool) -> Result<()> {
    if json {
        return print_json(&json!({ "total": total, "cases": rows }));
    }
    let mut lines = vec![vec![
        "办件编号".to_string(),
        "灯".to_string(),
        "状态".to_string(),
        "事项".to_string(),
        "申请人".to_string(),
        "承诺办结日".to_string(),
        "当前承办".to_string(),
    ]];
    for r in rows {
        let light = r
            .light
            .as_deref()
            .and_then(yizhan_node::case::Light::parse)
            .map_or("-", |l| l.label_zh());
        let mut holder = station_name(roster, &r.holder);
        if r.conflict {
            holder.push_str(" ⚠冲突");
        }
        lines.push(vec![
            r.number.clone(),
            light.to_string(),
            status_label(&r.status),
            r.item_name.clone(),
            r.applicant.clone(),
            format!(
                "{}{}",
                r.due_on.as_deref().unwrap_or("-"),
                if r.due_provisional {
                    PROVISIONAL_MARK
                } else {
                    ""
                }
            ),
            holder,
        ]);
    }
    for line in table(&lines) {
        outln!("{line}");
    }
    outln!(
        "共 {total} 件，显示 {} 件 ({} of {total})",
        rows.len(),
        rows.len()
    );
    Ok(())
}

/// `case show` and every case action.
pub fn case(
    view: &CaseView,
    calendar: &Calendar,
    roster: &Roster,
    notices: &[yizhan_node::notice::Notice],
    json: bool,
) -> Result<()> {
    let name = |code: &str| station_name(roster, code);
    let doc = &view.doc;
    let st = &view.state;
    let d = &view.deadline;
    let timeline: Vec<Value> = st
        .timeline
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "kind": e.kind, "at": format_ms(e.at), "station": e.station,
                "operator": e.operator, "fields": e.fields, "applied": e.applied, "problem": e.problem.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    let approvals: Value = yizhan_node::department_decisions(doc, st)
        .into_iter()
        .map(|(dept, decision)| (dept, Value::from(decision)))
        .collect::<serde_json::Map<String, Value>>()
        .into();
    let v = json!({
        "id": doc.id,
        "number": doc.number,
        "created_at": format_ms(doc.created_at),
        "origin": doc.origin,
        "item": { "code": doc.item.code, "name": doc.item.name, "kind": doc.item.kind, "legal_days": doc.item.legal_days,
                  "promised_days": doc.item.promised_days, "tier": doc.item.tier, "materials": doc.item.materials,
                  "departments": doc.item.departments },
        "applicant": { "name": doc.applicant.name, "id_number": mask_id_number(&doc.applicant.id_number),
                       "phone": yizhan_node::idcard::mask_phone(&doc.applicant.phone), "address": doc.applicant.address },
        "delegation": doc.delegation.as_ref().map(|dl| json!({ "agent": dl.agent, "agent_phone": dl.agent_phone, "entrustment": dl.entrustment, "handed_over": dl.handed_over })),
        "intake_operator": doc.intake_operator,
        "supervisions": st.supervisions.iter().map(|s| json!({
            "id": s.id, "at": format_ms(s.at), "station": s.station, "operator": s.operator, "reason": s.reason,
            "reply_days": s.reply_days,
            "reply": s.reply.as_ref().map(|r| json!({ "at": format_ms(r.at), "station": r.station, "operator": r.operator, "text": r.text })),
        })).collect::<Vec<_>>(),
        "originals_returned": st.originals_returned.iter().map(|o| json!({ "at": format_ms(o.at), "station": o.station, "operator": o.operator, "items": o.items })).collect::<Vec<_>>(),
        "status": st.status.as_str(),
        "outcome": st.outcome.map(|o| o.as_str()),
        "conflict": st.conflict(),
        "holder": st.holder,
        "route": st.route,
        "missing": st.missing,
        "gaps": st.gaps,
        "approvals": approvals,
        "rating": st.rating.as_ref().map(|r| r.level),
        "follow_up_open": d.follow_up_due.is_some(),
        "follow_up_due": d.follow_up_due.map(|x| x.to_string()),
        "consults": st.consults.iter().map(|c| json!({ "with": c.with, "minutes": c.minutes, "summary": c.summary, "at": format_ms(c.at), "station": c.station })).collect::<Vec<_>>(),
        "accepted_on": d.accepted_on.map(|x| x.to_string()),
        "due_on": d.due_on.map(|x| x.to_string()),
        "legal_due_on": d.legal_due_on.map(|x| x.to_string()),
        // A due date counted into a year the calendar has no rule for (weekends only there).
        "provisional": d.provisional(),
        "due_provisional": d.due_provisional,
        "legal_due_provisional": d.legal_provisional,
        "paused_days": d.paused_days,
        "on_time": d.on_time,
        "light": view.light.map(|l| l.as_str()),
        "remaining_days": view.remaining,
        "today": view.today.to_string(),
        "timeline": timeline,
        // The notices this node sends for the case (issue #15); the phone masked.
        "notices": notices_json(notices),
    });
    if json {
        return print_json(&v);
    }
    outln!("{}  {}  [{}]", doc.number, doc.item.name, doc.item.code);
    outln!(
        "  状态 status:   {}{}",
        st.status.label_zh(),
        if st.conflict() {
            "  ⚠ 冲突待处理"
        } else {
            ""
        }
    );
    outln!(
        "  申请人:        {}  {}",
        doc.applicant.name,
        mask_id_number(&doc.applicant.id_number)
    );
    outln!(
        "  当前承办:      {}  (路径 {})",
        name(&st.holder),
        st.route
            .iter()
            .map(|c| name(c))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    if let Some(due) = d.due_on {
        let light = view.light.map_or("-", |l| l.label_zh());
        let left = view
            .remaining
            .map_or(String::new(), |r| format!("，剩余 {r} 个工作日"));
        let mark = if d.due_provisional {
            PROVISIONAL_MARK
        } else {
            ""
        };
        outln!("  承诺到期:      {due}{mark}  {light}{left}");
        if d.provisional()
            && let Some(year) = d.uncovered_year
        {
            outln!("                 {year}年工作日历尚未录入，到期日按仅周末休息暂算");
        }
        let _ = calendar;
    }
    if !doc.item.departments.is_empty() {
        let words: Vec<String> = doc
            .item
            .departments
            .iter()
            .map(|dept| match st.approvals.get(dept) {
                Some(a) if a.approved => format!("{dept} 同意"),
                Some(a) => format!("{dept} 不同意（{}）", a.reason),
                None => format!("{dept} 待审批"),
            })
            .collect();
        outln!("  并联审批:      {}", words.join("；"));
    }
    // Each material and where it stands, as the window and the receipt say it.
    {
        use yizhan_node::case::materials::{MaterialState as M, materials};
        let lines: Vec<String> = materials(doc, st)
            .into_iter()
            .map(|l| {
                let word = match l.state {
                    M::Received => "已收".to_string(),
                    M::Supplied(at) => format!("已补齐 {}", format_ms(at)),
                    M::Promised(p) => format!("容缺，承诺 {p}"),
                    M::Requested => "已告知补正".to_string(),
                    M::Missing => "尚缺".to_string(),
                    M::NotRecorded => "收件时未记录".to_string(),
                };
                format!("{}（{word}）", l.name)
            })
            .collect();
        if !lines.is_empty() {
            outln!("  申请材料:      {}", lines.join("；"));
        }
    }
    for sup in &st.supervisions {
        match &sup.reply {
            None => outln!(
                "  督办:          {} {} {}（{} 个工作日内回复，待回复）",
                format_ms(sup.at),
                name(&sup.station),
                sup.reason,
                sup.reply_days
            ),
            Some(r) => outln!(
                "  督办:          {} {} {}；{} 已回复：{}",
                format_ms(sup.at),
                name(&sup.station),
                sup.reason,
                r.operator,
                r.text
            ),
        }
    }
    outln!("  时间线 timeline:");
    outln!(
        "    {}  {}  收件登记",
        format_ms(doc.created_at),
        name(&doc.origin)
    );
    for e in &st.timeline {
        let flag = match (&e.problem, e.applied) {
            (Some(p), _) => format!("  ⚠ {p}"),
            (None, _) => String::new(),
        };
        let fields: Vec<String> = e
            .fields
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        outln!(
            "    {}  {}  {} {}{}",
            format_ms(e.at),
            name(&e.station),
            Action::label_zh(&e.kind),
            fields.join(" "),
            flag
        );
    }
    if !notices.is_empty() {
        outln!("  通知 notices:");
    }
    for n in notices {
        let kind = yizhan_node::notice::NoticeKind::from_key(&n.kind)
            .map_or(n.kind.as_str(), |k| k.label_zh());
        let why = if n.last_error.is_empty() {
            String::new()
        } else {
            format!("（{}）", n.last_error)
        };
        outln!(
            "    {}  {}  {}  {}  尝试 {} 次{}",
            format_ms(n.created_at),
            kind,
            n.phone_masked(),
            n.state.label_zh(),
            n.attempts,
            why
        );
    }
    Ok(())
}

fn notices_json(notices: &[yizhan_node::notice::Notice]) -> Value {
    notices
        .iter()
        .map(|n| {
            json!({
                "id": n.id, "kind": n.kind, "phone": n.phone_masked(), "text": n.text,
                "state": n.state, "attempts": n.attempts, "last_error": n.last_error,
                "created_at": format_ms(n.created_at), "sent_at": n.sent_at.map(format_ms),
            })
        })
        .collect()
}

/// `stats`.
pub fn stats(stats: &Stats, ranking: Option<&[RankRow]>, json: bool) -> Result<()> {
    if json {
        let mut v = serde_json::to_value(stats)?;
        if let (Some(rows), Some(map)) = (ranking, v.as_object_mut()) {
            map.insert("ranking".into(), serde_json::to_value(rows)?);
        }
        return print_json(&v);
    }
    let t = &stats.totals;
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
    outln!(
        "截至 {}: 办件 {}，在办 {}，办结 {}，按时办结率 {}",
        stats.today,
        t.cases,
        t.open,
        t.completed,
        pct(t.on_time_rate)
    );
    outln!(
        "  红黄绿灯: 绿 {} 黄 {} 红 {} 严重超期 {}",
        t.lights.get("green").unwrap_or(&0),
        t.lights.get("yellow").unwrap_or(&0),
        t.lights.get("red").unwrap_or(&0),
        t.lights.get("severe").unwrap_or(&0)
    );
    outln!(
        "  好差评: {} 条，满意率 {}，整改 {}（超期 {}）；代办 {}，视频咨询 {}，冲突 {}",
        t.rated,
        pct(t.satisfaction_rate),
        t.follow_ups_open,
        t.follow_ups_overdue,
        t.delegated,
        t.consults,
        t.conflicts
    );
    if t.provisional > 0 {
        outln!(
            "  到期日暂定（工作日历未覆盖的年份）: {} 件在办",
            t.provisional
        );
    }
    for g in &stats.groups {
        let gt = &g.totals;
        outln!(
            "  {:<10} {:<16} 办件 {:>6} 在办 {:>5} 按时率 {:>6} 红 {} 严重 {}",
            g.key,
            g.name,
            gt.cases,
            gt.open,
            pct(gt.on_time_rate),
            gt.lights.get("red").unwrap_or(&0),
            gt.lights.get("severe").unwrap_or(&0)
        );
    }
    for d in &stats.depts {
        outln!(
            "  部门 {:<12} 办件 {:>6} 同意 {:>6} 不同意 {:>5} 待审 {:>5}",
            d.dept,
            d.cases,
            d.approved,
            d.rejected,
            d.pending
        );
    }
    if let Some(rows) = ranking {
        ranking_lines(rows);
    }
    Ok(())
}

/// The ranking by operator or department (排名): on-time rate, handling days, satisfaction.
pub fn ranking(rows: &[RankRow], json: bool) -> Result<()> {
    if json {
        return print_json(&json!({ "ranking": rows }));
    }
    ranking_lines(rows);
    Ok(())
}

fn ranking_lines(rows: &[RankRow]) {
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
    let days = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
    if rows.is_empty() {
        outln!("  排名: 尚无由操作员账号办结的办件");
    }
    for (i, r) in rows.iter().enumerate() {
        outln!(
            "  {:>2}. {:<12} {:<6} 办结 {:>5} 按时率 {:>6} 平均用时 {:>5} 个工作日 评价 {:>4} 满意率 {:>6}",
            i + 1,
            r.name,
            r.station,
            r.decided,
            pct(r.on_time_rate),
            days(r.avg_handling_days),
            r.rated,
            pct(r.satisfaction_rate)
        );
    }
}
