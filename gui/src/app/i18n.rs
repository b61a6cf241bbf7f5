//! The one translation table: every string the window shows, in Chinese (the default) and
//! English.
//!
//! The table is a struct with one field per string and one instance per language, built by the
//! `strings!` macro from `name: "中文", "English";` lines, so a string missing in one language is a
//! compile error rather than a blank label. Names that come from the domain (statuses, lights,
//! tiers, action and event kinds, rating levels) are translated by the methods below, which match
//! on the node's own enums and stored names.
//!
//! Why one file over 800 lines: it is a table, one line per string in both languages, and a
//! translator reads and checks it as one list; splitting it by screen would scatter the words a
//! clerk sees in several places into several files.

use yizhan_node::calendar::CalendarError;
use yizhan_node::case::Light;
use yizhan_node::case::fold::{Problem, Status};
use yizhan_node::catalog::{CatalogError, RowError, RowProblem, SyntaxProblem};
use yizhan_node::idcard::IdNumberError;
use yizhan_node::station::Tier;
use yizhan_node::{Invalid, Refusal};

/// A language of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 中文 (default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The strings of this language.
    pub fn tr(self) -> &'static Tr {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

macro_rules! strings {
    ($($name:ident: $zh:expr, $en:expr;)*) => {
        /// Every string the window shows, in one language.
        #[derive(Debug)]
        pub struct Tr {
            $(
                #[allow(missing_docs)]
                pub $name: &'static str,
            )*
        }
        /// Chinese.
        pub static ZH: Tr = Tr { $($name: $zh,)* };
        /// English.
        pub static EN: Tr = Tr { $($name: $en,)* };
    };
}

strings! {
    lang_name: "中文", "English";
    app_title: "驿站", "Yizhan";
    station: "站点", "Station";
    screen_inbox: "待办", "To do";
    screen_cases: "办件", "Cases";
    inbox_total: "需要处理", "to handle:";
    inbox_arrived: "新到待受理", "Arrived, not yet accepted";
    inbox_arrived_hint: "转到本站或在本站登记、尚未受理的办件（村站：已登记、尚未上报）。", "Cases taken in or forwarded here and not yet accepted (at a village: taken in and not yet sent up).";
    inbox_materials: "待补正", "Awaiting materials";
    inbox_materials_hint: "已一次性告知、等申请人补齐材料的办件；申请人带齐材料来时，从这里继续办理。", "Cases waiting for the applicant's missing materials; when the applicant comes back, continue from here.";
    inbox_due: "临期与超期", "Due soon and overdue";
    inbox_due_hint: "正在计时、已亮黄灯或红灯的办件，最早到期的在前。", "Cases whose clock runs and whose light is yellow or red, earliest due first.";
    inbox_follow_ups: "差评整改", "Follow-ups of bad ratings";
    inbox_follow_ups_hint: "申请人给了差评、整改尚未完成的办件。", "Cases whose applicant gave a bad rating and whose follow-up is still open.";
    inbox_supervised: "督办待回复", "Supervision to answer";
    inbox_supervised_hint: "上级发来督办、本站尚未回复的办件。请在办件详情中回复。", "Cases a supervisor sent a 督办 about that this station has not answered yet. Answer it on the case.";
    inbox_news: "办理进展", "News of your cases";
    inbox_news_hint: "本站代办的办件在其他站点有了进展（受理、要求补正、办结、可以领取），请告知群众。", "Cases this station took in that moved on elsewhere (accepted, materials asked for, completed, ready to pick up): tell the applicants.";
    inbox_mark_seen: "全部标为已查看", "Mark all as seen";
    inbox_empty: "没有。", "None.";
    inbox_from: "来自", "from";
    inbox_more: "未列出的还有", "Not listed:";
    screen_intake: "收件登记", "Intake";
    screen_dashboard: "统计监察", "Dashboard";
    screen_sync: "同步", "Sync";
    screen_settings: "设置", "Settings";
    loading: "正在读取…", "Loading…";
    error: "错误", "Error";
    saving: "正在保存…", "Saving…";
    saved: "已保存", "Saved";
    intake_done: "已登记办件", "Case taken in:";
    settings_saved: "设置已保存", "Settings saved";
    pick_date: "从日历中选择日期", "Pick a date from the calendar";
    calendar_button: "日历", "Calendar";
    prev_month: "上月", "Previous";
    next_month: "下月", "Next";
    today_button: "今天", "Today";
    station_phone: "本站咨询电话", "Station's enquiry phone";
    station_phone_hint: "打印在回执上，供群众报办件编号查询进度；手机号或带区号的座机，只有本站或上级管理员可以保存。", "Printed on receipts so that applicants can ask about progress with their case number; a mobile or a landline with its area code. Saved by an administrator of this station or a parent station.";
    operator: "操作员", "Operator";
    refresh: "刷新", "Refresh";
    refused: "未执行", "Refused";
    all: "全部", "All";
    yes: "是", "yes";
    no: "否", "no";
    // Start (first run).
    start_title: "欢迎使用驿站", "Welcome to Yizhan";
    start_no_store: "这台电脑还没有驿站数据。数据目录：", "This computer has no Yizhan store yet. Data directory:";
    start_working: "正在处理，请稍候…", "Working, please wait…";
    start_create: "新建网络（本机成为市级政务服务中心）", "Create a network (this computer becomes the city center)";
    start_create_hint: "只在全市第一台电脑上做一次；其他电脑用邀请码加入。", "Done once, on the city's first computer; other computers join with a ticket.";
    network_name: "网络名称", "Network name";
    station_code: "站点代码", "Station code";
    station_name_label: "站点名称", "Station name";
    start_create_button: "新建网络", "Create network";
    start_join: "凭邀请码加入", "Join with a ticket";
    start_join_hint: "上级站点运行“邀请”后给出的 yz1… 邀请码；粘贴或从文件读取。", "The yz1… ticket from the parent station's invite; paste it or read it from a file.";
    ticket: "邀请码", "Ticket";
    ticket_file: "邀请码文件", "Ticket file";
    read_file: "读取文件", "Read file";
    start_join_button: "加入网络", "Join network";
    start_demo: "打开演示县", "Open the demo county";
    start_demo_hint: "在本机运行一个演示县（1 市、2 乡镇、4 村，各为真实节点），数据在退出时删除。", "Runs a demo county on this computer (1 city, 2 townships, 4 villages, each a real node); its data is removed at exit.";
    start_demo_button: "打开演示", "Open demo";
    data_as_of: "数据截至", "Data as of";
    live: "本站实时", "live here";
    catalog: "事项清单", "Catalog";
    items: "项", "items";
    catalog_file: "导入文件", "Import file";
    catalog_file_hint: "JSON 或 CSV（见 yizhan catalog import）；逐行校验，有错则整体不导入。", "JSON or CSV (see yizhan catalog import); every row is checked, and a file with errors is not imported.";
    catalog_import: "导入事项清单", "Import catalog";
    catalog_imported: "已导入", "Imported";
    catalog_items: "全部事项", "All items";
    calendar_years: "工作日历（节假日与调休）", "Working-day calendar (holidays and make-up days)";
    holidays: "节假日", "holidays";
    makeup_days: "调休上班", "make-up working days";
    // Sync tools.
    tool_invite: "邀请新电脑（生成邀请码）", "Invite a computer (make a ticket)";
    tool_invite_hint: "新电脑运行“凭邀请码加入”；邀请码只能用一次，过期作废。", "The new computer uses “Join with a ticket”; a ticket works once and expires.";
    tier_label: "层级", "Tier";
    parent_code: "上级站点代码", "Parent code";
    parent_hint: "留空：村站默认本站，乡镇默认市级中心。", "Empty: this station for a village, the city for a township.";
    valid_days: "有效天数", "Valid days";
    valid_days_invalid: "有效天数应为 1–90 的整数", "Valid days must be a whole number from 1 to 90";
    invite_addr: "本机地址", "This node's address";
    invite_addr_hint: "IP:端口，多个用逗号分隔；留空则用 yizhan serve 最近的监听地址。", "IP:PORT, several separated by commas; empty: where yizhan serve last listened.";
    make_ticket: "生成邀请码", "Make ticket";
    no_address: "本节点还没有地址：同步启动后会自动记录；也可以直接填写本机地址", "This node has no address yet: it is recorded once sync has started; or fill in this computer's address";
    bad_address: "地址格式应为 IP:端口：", "Expected IP:PORT, got:";
    tool_revoke: "吊销节点", "Revoke a node";
    reason: "理由", "Reason";
    revoke_button: "吊销", "Revoke";
    revoked: "已吊销", "Revoked";
    tool_bundle: "离线包（U 盘同步）", "Bundles (sync by USB stick)";
    tool_bundle_hint: "导出本站的文档到文件，在另一站导入；重复导入或顺序颠倒都不会出错。", "Export this station's documents to a file and import it at another station; importing twice or in any order is harmless.";
    bundle_out: "导出到文件", "Export to file";
    bundle_for: "目标站点", "For station";
    bundle_for_hint: "只导出该站点范围内的文档；留空导出全部。", "Only documents in that station's scope; empty: everything.";
    bundle_export: "导出", "Export";
    bundle_in: "导入文件", "Import file";
    bundle_import: "导入", "Import";
    bundle_docs: "文档", "documents";
    bundle_bytes: "字节", "bytes";
    bundle_changed: "有变化", "changed";
    bundle_unchanged: "已有", "already here";
    bundle_out_of_scope: "不在本站范围", "outside this station's scope";
    copy: "复制", "Copy";
    copy_number: "复制案件编号", "Copy the case number";
    // County (demo).
    county: "演示县", "Demo county";
    county_links: "链路（勾选为连通）", "Links (ticked = up)";
    county_stream: "持续来件", "Stream of applications";
    county_status: "各站同步状态", "Sync status per station";
    peers_connected: "已连接", "connected";
    pending_docs: "待发送", "pending";
    last_contact: "最后联系", "Last contact";
    // List.
    search: "搜索", "Search";
    search_hint: "办件编号、姓名、身份证号或手机号（可输后4位）", "Case number, name, ID or phone number (or its last 4)";
    matching_cases: "符合条件的办件：", "Matching cases:";
    col_light: "灯", "Light";
    col_number: "办件编号", "Case number";
    col_applicant: "申请人", "Applicant";
    col_item: "事项", "Item";
    col_status: "状态", "Status";
    col_holder: "当前办理站点", "Held by";
    col_due: "承诺办结日", "Due";
    col_remaining: "剩余工作日", "Working days left";
    area: "区域", "Area";
    created_from: "登记自", "Created from";
    created_to: "至", "to";
    date_hint: "日期写作 2026-03-09、2026-3-9 或 2026/3/9", "Write dates as 2026-03-09, 2026-3-9 or 2026/3/9";
    only_mine: "仅本站在办", "Held here only";
    only_conflicts: "仅冲突", "Conflicts only";
    sort: "排序", "Sort";
    sort_newest: "最新登记", "Newest";
    sort_oldest: "最早登记", "Oldest";
    sort_due: "最早到期", "Due first";
    clear_filters: "清除筛选", "Clear filters";
    delegated_short: "代办", "proxy";
    overdue_by: "超期", "overdue by";
    no_light: "无灯（未受理或已办结）", "No light (not accepted, or finished)";
    // Detail.
    back_to_list: "← 返回", "← Back";
    case_number: "办件", "Case";
    conflict_flag: "⚠ 存在冲突", "⚠ Conflict";
    conflict_explain: "离线期间多个站点对本件做了相互冲突的操作，时间线中已标出。请核实后写明处理结果。", "While offline, stations made conflicting changes to this case (marked on the timeline). Check them and write down what was decided.";
    settle_note: "冲突处理说明", "How the conflict was settled";
    act_settle: "处理冲突", "Settle the conflict";
    actions: "可办理的操作", "Actions";
    checking_actions: "正在核对本站可办理的操作…", "Checking what this station may do…";
    act_accept: "受理", "Accept";
    act_resume: "恢复计时", "Resume the clock";
    act_materials_supplied: "材料已补齐（恢复计时）", "Materials supplied (resume the clock)";
    confirm_prefix: "确认", "Confirm: ";
    cannot_undo: "确认后记入办件记录，不能撤回。", "Once confirmed it is recorded on the case and cannot be undone.";
    outcome: "办理结果", "Outcome";
    outcome_grant: "准予许可", "Granted";
    outcome_decline: "不予许可", "Declined";
    accept_missing_title: "以下申请材料尚未收到：", "These materials have not been received:";
    accept_missing_hint: "可容缺受理（申请人书面承诺补齐），或一次性告知补正后再受理。", "Accept with gaps (the applicant promises them in writing), or send the one-time notice and accept later.";
    to_gaps: "改为容缺受理…", "Accept with gaps instead…";
    to_notice: "改为一次性告知补正", "Send the one-time notice instead";
    accept_anyway: "仍然受理", "Accept anyway";
    other_materials: "其他材料", "Other materials";
    gaps_date: "承诺补齐日期", "Promised by";
    promised_by: "前补齐", "at the latest";
    act_supply_gaps: "容缺材料补齐…", "Missing materials supplied…";
    act_supply_submit: "登记补齐", "Record as supplied";
    mat_received: "已收", "received";
    mat_supplied: "已补齐", "supplied";
    mat_promised: "容缺，承诺", "accepted as missing, promised";
    mat_requested: "已告知补正", "asked for";
    mat_missing: "尚缺", "missing";
    mat_not_recorded: "收件时未记录", "not recorded at intake";
    act_complete: "办结", "Complete";
    act_deliver: "送达", "Deliver";
    forward_to: "转办至", "Forward to";
    act_forward: "转办", "Forward";
    missing_list: "需补正的材料（一次性告知）", "Materials to supply (one-time notice)";
    list_hint: "多项用；或，分隔", "Separate items with ； or ,";
    act_request_materials: "一次性告知补正", "Request the materials";
    act_accept_with_gaps: "容缺受理…", "Accept with gaps…";
    act_accept_with_gaps_submit: "容缺受理", "Accept with gaps";
    gaps_missing: "容缺材料", "Materials accepted as missing";
    gaps_promise: "申请人承诺", "Applicant's promise";
    approvals: "并联审批", "Parallel approval";
    act_approve: "同意", "Approve";
    act_reject: "不同意", "Reject";
    reject_reason: "不同意理由", "Reason for rejection";
    reason_needed: "请先填写理由", "Write the reason first";
    suspend_reason: "特别程序及原因", "Procedure and reason";
    act_suspend: "特别程序（暂停计时）", "Special procedure (pause the clock)";
    refuse_reason: "不予受理理由", "Reason for refusal";
    act_refuse: "不予受理", "Refuse";
    decline_reason: "不予许可理由", "Reason for the decision";
    act_decline: "不予许可", "Decline";
    rating: "好差评", "Rating";
    rating_comment: "评价意见", "Applicant's comment";
    act_rate: "提交评价", "Record the rating";
    follow_up_summary: "回访记录", "Call-back notes";
    act_follow_up: "记录回访", "Record the call-back";
    act_consult: "视频咨询…", "Video consult…";
    consult_with: "咨询站点", "Consulted station";
    consult_minutes: "时长（分钟）", "Minutes";
    consult_summary: "咨询纪要", "Summary";
    minutes_hint: "时长应为 1–600 的整数", "Minutes: a whole number from 1 to 600";
    act_consult_submit: "记录视频咨询", "Record the consult";
    act_note: "备注…", "Note…";
    note_text: "备注内容", "Note";
    act_note_submit: "添加备注", "Add the note";
    not_allowed_now: "本站当前不能办理的操作", "Not allowed here now";
    kind_label: "类型", "Kind";
    promised: "承诺", "promised";
    legal: "法定", "legal";
    delegation: "代办", "Delegation";
    agent: "代办员", "agent";
    entrustment: "委托书", "letter of entrustment";
    handed_over: "交接材料", "materials handed over";
    route: "流转", "Route";
    deadline: "时限", "Deadline";
    accepted_on: "受理日", "accepted";
    legal_due: "法定期限", "legal limit";
    on_time: "按时办结", "on time";
    late: "超期办结", "late";
    approved: "同意", "approved";
    rejected: "不同意", "rejected";
    pending: "待审批", "pending";
    follow_up: "整改", "Follow-up";
    follow_up_open: "整改待回访", "Follow-up open";
    follow_up_due: "整改期限", "Follow-up due by";
    supervise_open_case: "打开办件 / 督办", "Open / supervise";
    follow_up_closed: "已回访", "Called back";
    consults: "视频咨询", "Video consults";
    minutes: "分钟", "min";
    delegated_hint: "代办件：办结后请告知申请人结果并回访。", "Proxy case: tell the applicant the result and call back.";
    timeline: "办理过程", "Timeline";
    when: "时间", "When";
    where_: "站点", "Where";
    who: "经办人", "Who";
    what: "环节", "What";
    details: "内容", "Details";
    not_applied: "未生效", "not applied";
    // Intake.
    choose_item: "请先在左侧选择事项。", "Choose an item on the left first.";
    item_search: "查找事项", "Find an item";
    item_search_hint: "名称、编码或拼音首字母，如 lnr", "Name, code, or pinyin initials such as lnr";
    handled_at: "受理层级", "handled at";
    departments: "审批部门", "departments";
    forward_after_intake: "本事项不在本站受理：登记后请转办至受理站点。", "This item is accepted at another tier: forward the case after intake.";
    materials: "申请材料（已收到的打勾）", "Materials (tick what was received)";
    no_materials: "无需材料", "No materials needed";
    materials_missing: "尚缺：", "Still missing:";
    applicant: "申请人", "Applicant";
    applicant_name: "申请人姓名", "Applicant's name";
    required: "必填", "required";
    optional: "选填", "optional";
    too_long: "过长", "too long";
    id_number: "身份证号", "ID number";
    id_len: "身份证号应为 18 位，现为", "An ID number has 18 characters; this has";
    id_char: "身份证号含无效字符，位置", "Invalid character in the ID number at position";
    id_birth: "身份证号中的出生日期无效", "The birth date in the ID number is not a date";
    id_check: "身份证号无效，请核对号码", "The ID number is not valid; please check it";
    phone: "联系电话", "Phone";
    phone_invalid: "电话应为 11 位手机号，或带区号的固定电话（如 0351-7654321）", "A phone number is an 11-digit mobile or a landline with its area code (e.g. 0351-7654321)";
    address: "住址", "Address";
    delegated: "代办（代办员代为申请）", "Delegated (taken in by a proxy agent)";
    entrustment_recorded: "已收委托书", "Letter of entrustment received";
    handed_over_hint: "上面打勾的材料记为已交接给代办员。", "The ticked materials are recorded as handed over to the agent.";
    fix_fields: "请检查：", "Please check:";
    save_intake: "登记办件", "Take in the case";
    save_and_forward: "登记并上报", "Take in and send up";
    save_only: "仅登记（暂不上报）", "Take in only (send up later)";
    entrustment_listed: "委托书在上面的申请材料中勾选。", "Tick the letter of entrustment among the materials above.";
    preview_consult: "咨询件：不计时限", "Consultation: no deadline";
    preview_instant: "即办件：当日办结", "Instant: done the same day,";
    preview_due: "若今日受理，承诺办结日", "If accepted today, due";
    working_days: "个工作日", "working days";
    if_accepted_on: "受理日", "accepted";
    // Dashboard.
    whole_network: "全市", "Whole network";
    range_from_after_to: "起始日期晚于截止日期", "The start date is after the end date";
    range_counted: "按登记日期统计（读取办件表）", "Counted by date taken in (reads the case table)";
    as_of: "数据截至", "as of";
    total_cases: "办件量", "Cases";
    open_cases: "在办", "Open";
    completed_cases: "已办结", "Completed";
    on_time_rate: "按时办结率", "On-time rate";
    satisfaction: "满意率", "Satisfaction";
    follow_ups: "整改待办", "Open follow-ups";
    overdue: "超期", "overdue";
    conflicts: "冲突", "Conflicts";
    delegated_cases: "代办件", "Proxy cases";
    lights_open: "在办件红黄绿灯", "Lights of open cases";
    by_status: "按状态", "By status";
    by_kind: "按类型", "By kind";
    group_by: "分组", "Group by";
    by_township: "按乡镇", "Township";
    by_village: "按村", "Village";
    by_dept: "按部门", "Department";
    by_item: "按事项", "Item";
    dept: "部门", "Department";
    group_name: "名称", "Name";
    red_and_severe: "红灯及严重超期", "Red and severe";
    own_level: "（本级）", "(own level)";
    csv_file: "导出文件", "CSV file";
    export_csv: "导出 CSV", "Export CSV";
    csv_written: "已导出", "Written:";
    overdue_list: "超期与严重超期", "Overdue and severely overdue";
    none_overdue: "没有超期办件。", "No overdue cases.";
    // Printable documents (受理回执, 一次性告知书): the window's part.
    print_heading: "打印文书", "Printable documents";
    pdf_file: "PDF 文件", "PDF file";
    print_receipt: "生成受理回执", "Make the acceptance receipt";
    print_notice: "生成一次性告知书", "Make the one-time notice";
    pdf_writing: "正在生成…", "Writing…";
    pdf_written: "已生成", "Written:";
    pdf_no_font: "找不到中文字体，无法生成 PDF。", "No Chinese font was found, so the PDF cannot be made.";
    pdf_font_unusable: "中文字体无法嵌入 PDF", "The Chinese font cannot be embedded in a PDF";
    // Printable documents: their text.
    doc_sep: "：", ": ";
    doc_receipt_title: "受理回执", "Acceptance receipt";
    doc_qr_caption: "扫码查询办理进度", "Scan for the progress";
    tab_templates: "短信模板", "Notice texts";
    templates_intro_city: "发给申请人的办理进度短信和发给工作人员的临期、超期预警。修改后随同步送达各站点。", "Texts sent to applicants at each step and to staff when a case turns yellow or red. Changes reach every station by sync.";
    templates_intro_other: "短信内容由市政务服务中心统一设置，本站只能查看。", "The city sets the notice texts; this station can only read them.";
    templates_placeholders: "可用占位符：", "Placeholders: ";
    templates_changed: "（已修改）", "(changed)";
    templates_save: "保存", "Save";
    templates_reset: "恢复默认", "Restore default";
    templates_saved: "已保存短信模板：", "Notice text saved: ";
    templates_restored: "已恢复默认短信模板：", "Notice text restored: ";
    doc_intake_receipt_title: "收件回执", "Receipt of the application";
    doc_received: "（已收）", " (received)";
    doc_not_received: "（尚缺）", " (missing)";
    doc_supplied: "（已补齐）", " (supplied)";
    doc_sign_applicant_self: "申请人签字：______________    日期：__________", "Applicant, signature: ______________    Date: __________";
    doc_sign_clerk: "收件人签字：______________    日期：__________", "Received by, signature: ______________    Date: __________";
    print_intake_receipt: "生成收件回执", "Make the receipt of the application";
    doc_notice_title: "一次性告知书", "One-time notice";
    doc_number: "办件编号", "Case number";
    doc_item: "申请事项", "Service item";
    doc_applicant: "申请人", "Applicant";
    doc_id_number: "身份证号", "ID number";
    doc_phone: "联系电话", "Phone";
    doc_taken_in: "收件日期", "Taken in on";
    doc_accepted: "受理日期", "Accepted on";
    doc_not_accepted: "尚未受理", "not yet accepted";
    doc_due: "承诺办结日", "Promised by";
    provisional_mark: "（暂定）", " (provisional)";
    provisional_total: "到期日暂定", "Provisional due dates";
    provisional_hint: "到期日暂定：计算时跨入了尚未录入工作日历的年份，该年只按周末休息计算；市级录入该年日历后自动重算。", "Provisional due dates: counted into a year whose working-day calendar has not been entered, so only weekends were skipped there; they are recomputed when the city adds that year.";
    calendar_reminder_open: "添加工作日历", "Add the calendar";
    doc_promised_limit: "承诺时限", "Promised limit";
    doc_legal_limit: "法定时限", "legal limit";
    doc_instant: "即办件：当场办结", "Instant item: done on the spot";
    doc_consult: "咨询件：不计时限", "Consultation: no deadline";
    doc_materials: "申请材料", "Materials";
    doc_gap: "（容缺受理，后补）", " (accepted as missing, to follow)";
    doc_missing: "（待补正）", " (still to be supplied)";
    doc_agent: "代办员", "Proxy agent";
    doc_entrustment: "委托书", "Letter of entrustment";
    doc_handed_over: "交接材料", "Materials handed over";
    doc_agent_phone: "代办员电话", "Agent's phone";
    doc_station_phone: "咨询电话", "Enquiries";
    doc_quote_number: "请报办件编号", "quote case number";
    doc_originals_returned: "原件已退还", "Originals returned";
    doc_sign_applicant: "委托人（申请人）签字：______________    日期：__________", "Applicant (principal), signature: ______________    Date: __________";
    doc_sign_agent: "代办人签字：______________    日期：__________", "Proxy agent, signature: ______________    Date: __________";
    doc_sign_handover: "材料交接　交件人签字：____________    接收人签字：____________", "Materials handed over — given by: ____________    received by: ____________";
    doc_receipt_note: "请妥善保管本回执，凭办件编号可查询办理进度。", "Please keep this receipt: the case number lets you ask how the case stands.";
    doc_notice_intro: "您申请办理的事项需提交以下全部材料：", "The item you applied for needs all of the following materials:";
    doc_still_needed: "尚需补正的材料", "Materials still needed";
    doc_none: "无", "none";
    doc_depts: "审批部门", "Approving departments";
    doc_notice_note: "以上为一次性告知的全部材料，材料齐全即予受理，不再要求补充其他材料。", "These are all the materials, told once: with them the case is accepted, and nothing else will be asked for.";
    doc_issuer: "出具单位", "Issued by";
    doc_date: "出具日期", "Date";
    // Sync.
    node_id: "节点标识", "Node id";
    ordinal: "节点序号", "node no.";
    seq: "变更序号", "Change sequence";
    addresses: "监听地址", "Listening on";
    not_listening: "未在监听", "Not listening";
    sync_now: "立即同步", "Sync now";
    sync_now_all: "全部立即同步", "Sync all now";
    engine_none: "本窗口不运行同步。", "This window does not run sync.";
    engine_starting: "同步正在启动…", "Sync is starting…";
    engine_running: "本机正在同步", "Syncing from this computer";
    engine_elsewhere: "本站的同步由本机另一个程序运行，这里显示它的记录", "Another program on this computer syncs this station; its records are shown here";
    engine_other_window: "另一个窗口", "another window";
    engine_failed: "同步未能启动", "Sync could not start";
    engine_stopped: "同步已停止。", "Sync has stopped.";
    listening_on: "监听", "listening on";
    lan_addrs: "本机网络地址", "This computer's network addresses";
    port_moved: "上次使用的端口被占用，已改用其他端口；之前发出的邀请码可能连不上。原端口：", "The port used last time is taken, so another is used; tickets made before may not connect. Old port:";
    peer_state: "状态", "State";
    connected: "已连接", "connected";
    syncing: "正在同步", "syncing";
    not_connected: "未连接", "not connected";
    to_receive: "待接收", "to receive";
    bytes_left: "待发", "left to send";
    sync_details: "详情", "Details";
    just_now: "刚刚", "just now";
    secs_ago: "秒前", "s ago";
    mins_ago: "分钟前", "min ago";
    hours_ago: "小时前", "h ago";
    docs_unit: "件", "";
    err_unreachable: "连不上（网络不通，或对方电脑未开机）", "Unreachable (no link, or the other computer is off)";
    err_refused_revoked: "对方拒绝：本机已被吊销", "Refused: this computer has been revoked";
    err_refused_network: "对方拒绝：不是同一个网络", "Refused: not the same network";
    err_refused_member: "对方拒绝：对方不认识本机（尚未登记）", "Refused: the other side does not know this computer (not enrolled)";
    err_refused_version: "对方拒绝：软件版本不兼容，请升级", "Refused: incompatible versions, please upgrade";
    err_refused_scope: "对方拒绝：请求超出范围", "Refused: out of scope";
    err_refused_other: "对方拒绝同步", "The other side refused";
    err_refusing_revoked: "已拒绝：对方已被吊销", "Refused it: it has been revoked";
    err_refusing_network: "已拒绝：对方不是同一个网络", "Refused it: another network";
    err_refusing_member: "已拒绝：对方未登记", "Refused it: not enrolled";
    err_refusing_version: "已拒绝：对方软件版本不兼容", "Refused it: incompatible version";
    err_refusing_scope: "已拒绝：对方请求超出范围", "Refused it: out of scope";
    err_refusing_other: "已拒绝对方", "Refused it";
    err_other: "同步出错", "Sync error";
    sync_config: "本机同步设置", "This computer's sync settings";
    sync_listen: "监听地址", "Listen on";
    sync_listen_hint: "留空则沿用上次的端口；例如 0.0.0.0:7227", "Empty: the port of last time; e.g. 0.0.0.0:7227";
    sync_mdns: "在局域网中自动发现其他站点（mDNS）", "Find other stations on the local network (mDNS)";
    sync_relay: "中继服务器（市级提供时填写）", "Relay server (if the city runs one)";
    sync_config_saved: "同步设置已保存，同步已重新启动", "Sync settings saved; sync restarted";
    web_listen: "办件查询页面地址", "Progress page (办件查询) address";
    web_listen_hint: "留空则不开启；例如 0.0.0.0:8080（大厅查询机访问本机）", "Empty: off; e.g. 0.0.0.0:8080 (the hall's query terminal)";
    public_url: "对外公开网址（回执打印二维码）", "Public address (QR code on receipts)";
    notice_sender: "短信通知发送方式", "How notices (SMS) are sent";
    notice_via_none: "不发送（村站交由乡镇发送）", "Not here (a village's go to its township)";
    notice_via_gateway: "短信网关（HTTP）", "SMS gateway (HTTP)";
    notice_via_spool: "短信猫目录（gammu-smsd）", "Modem spool folder (gammu-smsd)";
    notice_gateway_key: "网关密钥", "Gateway key";
    notices_title: "短信通知", "Notices";
    notices_none: "本机没有这件办件的通知", "No notices for this case here";
    notice_attempts: "尝试", "attempts";
    notice_retry: "重新发送", "Send again";
    sync_badge_ok: "已同步", "Synced";
    sync_badge_busy: "同步中", "Syncing";
    sync_badge_offline: "未连接", "Offline";
    sync_badge_other: "由其他程序同步", "Synced by another program";
    sync_badge_failed: "同步未启动", "Sync not running";
    copied: "已复制", "Copied";
    paste: "粘贴", "Paste";
    clipboard_empty: "剪贴板中没有文字：请先复制邀请码", "The clipboard holds no text: copy the ticket first";
    clipboard_failed: "无法读取剪贴板", "Cannot read the clipboard";
    paste_hint: "把复制的邀请码粘贴到上面（也可在输入框中按 Ctrl+V）", "Paste the copied ticket above (or press Ctrl+V in the field)";
    ticket_qr_hint: "可用手机拍下二维码，或保存为文件用U盘带到新电脑。", "Photograph the QR code with a phone, or save it to a file for a USB stick.";
    save_to_file: "保存到文件", "Save to file";
    saved_to: "已保存到", "Saved to";
    print_button: "打印", "Print";
    open_button: "打开", "Open";
    print_sent: "已发送到打印机", "Sent to the printer";
    print_no_printer: "尚未设置打印机：请在系统设置中添加打印机并设为默认", "No printer is set up: add one in the system settings and make it the default";
    print_no_cups: "本机未安装打印服务（CUPS 的 lp 命令）：请安装 cups 并添加打印机", "No print service on this computer (CUPS's lp): install cups and add a printer";
    print_failed: "打印失败", "Printing failed";
    opened: "已用系统的阅读器打开", "Opened in the system's viewer";
    open_no_viewer: "找不到可以打开 PDF 的程序：请安装 PDF 阅读器", "No program to open PDF files: install a PDF viewer";
    open_failed: "无法打开", "Cannot open";
    peers: "对端节点", "Peers";
    no_peers: "尚无对端节点。", "No peers yet.";
    watermarks: "水位", "Watermarks";
    received: "已收", "received";
    acked: "已确认", "acked";
    last_error: "最近错误", "Last error";
    never: "从未", "never";
    // Settings.
    language: "语言", "Language";
    apply: "应用", "Apply";
    font: "中文字体", "Chinese font";
    network_settings: "全网设置（仅市级可改）", "Network settings (city only)";
    yellow_percent: "黄灯阈值（%）", "Yellow threshold (%)";
    yellow_hint: "剩下的工作日不超过承诺时限的这个百分比（不足 1 天按 1 天，有小数向上取整）时亮黄灯。", "The light turns yellow when the working days left are at most this share of the promised limit (rounded up, at least 1 day).";
    follow_up_days: "整改时限（工作日）", "Follow-up limit (working days)";
    follow_up_hint: "差评（4、5 分）后须在此期限内回访", "A rating of 4 or 5 must be followed up within this limit";
    settings_invalid: "阈值应为 1–100，整改时限应为正整数", "Threshold 1–100; follow-up limit a positive number";
    save_settings: "保存设置", "Save settings";
    city_only: "只有市级站点可以修改全网设置。", "Only the city station may change network settings.";
    paren_l: "（", " (";
    paren_r: "）", ")";
    tab_general: "常规", "General";
    tab_people: "人员", "People";
    role_agent: "代办员", "Proxy agent";
    role_clerk: "窗口人员", "Window clerk";
    role_reviewer: "部门审核员", "Department reviewer";
    role_supervisor: "督办人员", "Supervisor";
    role_admin: "管理员", "Administrator";
    role_unknown: "未知角色", "Unknown role";
    signed_in: "已登录", "Signed in";
    signed_out: "已退出登录", "Signed out";
    sign_in: "登录", "Sign in";
    sign_in_title: "请登录：本站的每一步办理都记在经办人名下。", "Sign in: every step at this station is recorded under the person who takes it.";
    sign_in_hint: "同步在后台照常进行。忘记密码请找本站管理员重设。", "Sync goes on in the background. Forgot the password? Ask the station's administrator to set a new one.";
    first_run_title: "本站还没有操作员账号。请先建立本站管理员账号。", "This station has no operator accounts yet. Create the station administrator's account first.";
    first_run_hint: "管理员再为代办员、窗口人员等建立各自的账号；建立后，每次使用都需登录。", "The administrator then creates an account for each agent and clerk; from then on everyone signs in.";
    first_run_create: "建立管理员账号并登录", "Create the administrator and sign in";
    first_run_later: "暂不设置，继续使用", "Not now, continue";
    account_login: "登录名", "Login";
    account_name: "姓名", "Name";
    account_phone: "工作电话", "Work phone";
    account_role: "角色", "Role";
    account_dept: "所属部门", "Department";
    account_station: "站点", "Station";
    account_state: "状态", "State";
    account_state_active: "在用", "Active";
    account_state_disabled: "已停用", "Disabled";
    account_state_no_password: "未设密码", "No password here";
    account_password: "密码（至少 4 位）", "Password (4 characters or more)";
    account_password_again: "再输一次密码", "Password again";
    account_password_elsewhere: "下级站点的账号由该站管理员在本站设置密码（密码不离开所在站点）。", "A child station's account gets its password at that station (passwords never leave their station).";
    account_new: "新建账号", "New account";
    account_add: "建立账号", "Create account";
    account_added: "已建立账号", "Account created:";
    account_disable: "停用", "Disable";
    account_disabled: "已停用账号", "Account disabled:";
    account_disable_reason: "停用原因", "Reason for disabling";
    account_set_password: "设置密码", "Set password";
    password_set: "已设置密码", "Password set for";
    password_mismatch: "两次输入的密码不一致", "The two passwords differ";
    people_hint: "本站及下级站点的操作员账号。停用后，该账号在停用时间之后的办理记录在各站同步后都会标为冲突。", "Operator accounts of this station and its child stations. After an account is disabled, its records made after that time are flagged as conflicts at every station once synced.";
    people_admin_only: "只有管理员可以建立或停用账号。", "Only an administrator creates or disables accounts.";
    lock_minutes: "无操作自动锁定（分钟）", "Lock after idle (minutes)";
    lock_minutes_hint: "0 表示不自动锁定。本设置只对这台电脑有效。", "0 never locks. This setting is for this computer only.";
    lock_minutes_invalid: "请输入 0 到 240 之间的整数", "Enter a whole number from 0 to 240";
    lock: "锁定", "Lock";
    ranking_people: "按人员排名", "Ranking by person";
    ranking_depts: "按部门排名", "Ranking by department";
    ranking_none_people: "尚无由操作员账号办结的办件。", "No case decided under an operator account yet.";
    ranking_none_depts: "尚无经部门并联审批并办结的办件。", "No decided case with department approvals yet.";
    ranking_place: "名次", "Rank";
    ranking_decided: "办结", "Decided";
    ranking_days: "平均用时（工作日）", "Average working days";
    ranking_rated: "评价数", "Ratings";
    col_days_overdue: "逾期（工作日）", "Overdue (working days)";
    col_supervision: "督办", "Supervision";
    act_supervise: "督办", "Send a supervision notice (督办)";
    supervise_reason: "督办事由", "Reason";
    supervise_days: "回复期限（工作日）", "Reply within (working days)";
    act_supervise_submit: "发出督办", "Send";
    supervisions: "督办", "Supervision";
    supervision_open: "待回复，期限", "to answer by";
    supervision_replied: "已回复", "answered";
    act_reply_supervision: "回复督办", "Answer";
    reply_text: "回复内容", "Answer";
    act_return_originals: "原件退还", "Return originals";
    return_items: "退还的原件", "Originals returned";
    act_return_submit: "记录退还", "Record";
    save: "保存", "Save";
    switch_person: "换人", "Switch person";
    nobody_signed_in: "未登录", "Nobody signed in";
    first_run_person: "未设账号", "No accounts yet";
    tab_catalog: "事项清单", "Catalog";
    tab_calendar: "工作日历", "Calendar";
    city_only_edit: "只有市级站点可以修改事项清单和工作日历；此处只能查看。", "Only the city station may change the catalog and the calendar; here they can only be viewed.";
    discard: "放弃修改", "Discard changes";
    cancel: "取消", "Cancel";
    edit_added: "已新增事项", "Item added:";
    edit_saved: "已保存事项", "Item saved:";
    edit_retired: "已停用事项", "Item retired:";
    edit_restored: "已恢复受理事项", "Item back in use:";
    edit_removed: "已删除事项", "Item deleted:";
    edit_year: "已保存工作日历", "Calendar saved:";
    // Catalog editor.
    item_new: "新增事项", "New item";
    item_filter: "筛选事项", "Filter items";
    item_filter_hint: "按编码或名称筛选", "By code or name";
    item_choose: "在左侧选择一个事项查看或修改，或点“新增事项”。", "Choose an item on the left to view or change it, or click “New item”.";
    item_editing: "事项", "Item";
    item_adding: "填写新事项", "A new item";
    item_code: "事项编码", "Code";
    item_code_hint: "办件按编码引用事项；保存后编码不能再改。", "Cases refer to an item by its code; it cannot change once saved.";
    item_name: "事项名称", "Name";
    item_kind: "办件类型", "Kind";
    item_tier: "受理层级", "Handled at";
    item_legal: "法定时限（工作日）", "Legal limit (working days)";
    item_promised: "承诺时限（工作日）", "Promised limit (working days)";
    item_promised_hint: "即办件、咨询件为 0；承诺件至少 1，且不超过法定时限。", "0 for instant items and consultations; at least 1 for promised items, and no more than the legal limit.";
    item_materials: "申请材料（每行一项）", "Materials (one per line)";
    item_departments: "审批部门（每行一个，可空）", "Departments (one per line, may be empty)";
    item_conditions: "受理条件", "Conditions";
    days_invalid: "应为 0–365 的整数", "must be a whole number from 0 to 365";
    item_rules_hint: "已收的办件保留收件时的事项规则；修改只影响此后新收的办件。", "Cases already taken in keep the item as it was at their intake; a change applies to new cases only.";
    save_item: "保存事项", "Save item";
    retire_item: "停用事项", "Retire item";
    retire_hint: "停用后不再受理新件；已有办件照常办理，仍可按此事项查询和统计。", "A retired item takes no new cases; its cases go on and can still be listed and counted by it.";
    restore_item: "恢复受理", "Bring back";
    restore_hint: "恢复后可以再次收件。", "New cases can be taken in for it again.";
    retired_tag: "（已停用）", " (retired)";
    retired_note: "此事项已停用：不再受理新件，已有办件照常办理。", "This item is retired: no new cases; its cases go on.";
    delete_item: "删除事项", "Delete item";
    confirm_delete: "确认删除", "Confirm delete";
    delete_unused: "没有办件使用此事项，可以删除（用于删除误建的事项）。", "No case uses this item, so it can be deleted (for an item added by mistake).";
    item_uses: "使用此事项的办件", "Cases of this item:";
    delete_in_use: "已有办件使用，不能删除；可以停用。", "cases use it, so it cannot be deleted; retire it instead.";
    // Calendar editor.
    cal_year: "年份", "Year";
    cal_year_suffix: " 年", "";
    cal_add_year: "添加年份", "Add year";
    cal_year_invalid: "年份应为 2000–2100 的整数", "A year is a number from 2000 to 2100";
    cal_year_exists: "该年份已在日历中", "That year is already in the calendar";
    cal_unsaved: " · 未保存", " · unsaved";
    cal_unsaved_note: "有未保存的修改", "Unsaved changes";
    cal_holidays_heading: "节假日（放假）", "Holidays (days off)";
    cal_workdays_heading: "调休上班日", "Make-up working days";
    cal_none: "无", "none";
    cal_remove_hint: "点击删除", "click to remove";
    cal_date: "日期", "Date";
    cal_as_holiday: "节假日", "Holiday";
    cal_as_workday: "调休上班", "Make-up working day";
    cal_add_date: "添加日期", "Add date";
    cal_date_format: "日期格式应为 YYYY-MM-DD，如 2026-10-01", "A date is YYYY-MM-DD, e.g. 2026-10-01";
    cal_date_year: "该日期不在所选的年份内", "That date is not in the chosen year";
    cal_already_holiday: "该日已列为节假日", "That day is already a holiday";
    cal_already_workday: "该日已列为调休上班日", "That day is already a make-up working day";
    cal_makeup_weekday: "调休上班日应为周六或周日，周一至周五本来就上班", "A make-up working day is a Saturday or Sunday; weekdays are working days anyway";
    cal_save: "保存本年日历", "Save this year";
    cal_preview: "工作日试算", "Working-day check";
    cal_from: "起始日", "From";
    cal_days: "工作日数", "Working days";
    cal_preview_invalid: "起始日应为 YYYY-MM-DD，工作日数应为 0–365 的整数", "From is YYYY-MM-DD and working days a number from 0 to 365";
    cal_with_changes: "按未保存的修改，到期日", "With the unsaved changes, due";
    cal_as_saved: "按已保存的日历，到期日", "With the saved calendar, due";
    cal_builtin_note: "2024–2026 年按国务院办公厅通知内置；以后的年份由市级站点在此添加。保存后日历同步到所有站点，办件到期日随之重算。", "2024–2026 ship with Yizhan, from the State Council notices; the city adds later years here. A saved calendar travels to every station, and due dates are computed again.";
}

impl Tr {
    /// The yellow-light rule worked out for a promised limit of 10 working days.
    pub fn yellow_example(&self, percent: u32, days: u32) -> String {
        if std::ptr::eq(self, &EN) {
            format!(
                "Example: promised 10 working days, threshold {percent}% → yellow from {days} working day(s) left."
            )
        } else {
            format!("例：承诺 10 个工作日、阈值 {percent}% → 剩 {days} 个工作日时亮黄灯。")
        }
    }

    /// A number of documents (cases): "3 件" / "3".
    pub fn docs(&self, n: usize) -> String {
        if self.docs_unit.is_empty() {
            n.to_string()
        } else {
            format!("{n} {}", self.docs_unit)
        }
    }

    /// A peer's stored last error (`kind: detail`, see `yizhan_sync::ErrorKind`) in plain words;
    /// the detail stays available on hover.
    pub fn sync_error(&self, stored: &str) -> &'static str {
        use yizhan_sync::{Denial, ErrorKind};
        match ErrorKind::of_stored(stored) {
            ErrorKind::Unreachable => self.err_unreachable,
            ErrorKind::RefusedBy(d) => match d {
                Denial::Revoked => self.err_refused_revoked,
                Denial::OtherNetwork => self.err_refused_network,
                Denial::NotMember => self.err_refused_member,
                Denial::Version => self.err_refused_version,
                Denial::OutOfScope => self.err_refused_scope,
                Denial::Other => self.err_refused_other,
            },
            ErrorKind::Refusing(d) => match d {
                Denial::Revoked => self.err_refusing_revoked,
                Denial::OtherNetwork => self.err_refusing_network,
                Denial::NotMember => self.err_refusing_member,
                Denial::Version => self.err_refusing_version,
                Denial::OutOfScope => self.err_refusing_scope,
                Denial::Other => self.err_refusing_other,
            },
            ErrorKind::Other => self.err_other,
        }
    }

    /// A status.
    pub fn status(&self, s: Status) -> &'static str {
        if std::ptr::eq(self, &EN) {
            match s {
                Status::Submitted => "Submitted",
                Status::AwaitingMaterials => "Awaiting materials",
                Status::Accepted => "In progress",
                Status::Suspended => "Suspended",
                Status::Refused => "Refused",
                Status::Completed => "Completed",
                Status::Delivered => "Delivered",
            }
        } else {
            s.label_zh()
        }
    }

    /// A light.
    pub fn light(&self, l: Light) -> &'static str {
        if std::ptr::eq(self, &EN) {
            match l {
                Light::Green => "Green",
                Light::Yellow => "Yellow",
                Light::Red => "Red",
                Light::Severe => "Severely overdue",
            }
        } else {
            l.label_zh()
        }
    }

    /// A tier.
    pub fn tier(&self, t: Tier) -> &'static str {
        if std::ptr::eq(self, &EN) {
            match t {
                Tier::Village => "village station",
                Tier::Township => "township center",
                Tier::City => "city center",
            }
        } else {
            t.label_zh()
        }
    }

    /// An item kind by its stored name.
    pub fn kind(&self, kind: &str) -> &'static str {
        let en = std::ptr::eq(self, &EN);
        match (kind, en) {
            ("instant", false) => "即办件",
            ("instant", true) => "instant",
            ("promised", false) => "承诺件",
            ("promised", true) => "promised",
            ("consult", false) => "咨询件",
            ("consult", true) => "consultation",
            (_, false) => "未知类型",
            (_, true) => "unknown kind",
        }
    }

    /// A day of the week.
    pub fn weekday(&self, d: chrono::Weekday) -> &'static str {
        use chrono::Weekday as W;
        let en = std::ptr::eq(self, &EN);
        match (d, en) {
            (W::Mon, false) => "星期一",
            (W::Tue, false) => "星期二",
            (W::Wed, false) => "星期三",
            (W::Thu, false) => "星期四",
            (W::Fri, false) => "星期五",
            (W::Sat, false) => "星期六",
            (W::Sun, false) => "星期日",
            (W::Mon, true) => "Monday",
            (W::Tue, true) => "Tuesday",
            (W::Wed, true) => "Wednesday",
            (W::Thu, true) => "Thursday",
            (W::Fri, true) => "Friday",
            (W::Sat, true) => "Saturday",
            (W::Sun, true) => "Sunday",
        }
    }

    /// A weekday's short name for a calendar's header: 一 … 日, Mo … Su.
    pub fn weekday_short(&self, d: chrono::Weekday) -> &'static str {
        let long = self.weekday(d);
        if std::ptr::eq(self, &EN) {
            &long[..2]
        } else {
            long.strip_prefix("星期").unwrap_or(long)
        }
    }

    /// A calendar month's title: 2026年12月, December 2026.
    pub fn month_title(&self, year: i32, month: u32) -> String {
        const EN_MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        if std::ptr::eq(self, &EN) {
            let name = EN_MONTHS
                .get(month.saturating_sub(1) as usize)
                .copied()
                .unwrap_or("");
            format!("{name} {year}")
        } else {
            format!("{year}年{month}月")
        }
    }

    /// A rating level, 1 非常满意 … 5 非常不满意.
    pub fn rating_level(&self, level: u8) -> &'static str {
        let en = std::ptr::eq(self, &EN);
        match (level, en) {
            (1, false) => "1 非常满意",
            (2, false) => "2 满意",
            (3, false) => "3 基本满意",
            (4, false) => "4 不满意",
            (5, false) => "5 非常不满意",
            (1, true) => "1 very satisfied",
            (2, true) => "2 satisfied",
            (3, true) => "3 fairly satisfied",
            (4, true) => "4 dissatisfied",
            (5, true) => "5 very dissatisfied",
            (_, false) => "无效评价",
            (_, true) => "invalid rating",
        }
    }

    /// An event kind on the timeline (the stored name).
    pub fn event_kind(&self, kind: &str) -> &'static str {
        if !std::ptr::eq(self, &EN) {
            return yizhan_node::case::Action::label_zh(kind);
        }
        match kind {
            "intake" => "Intake",
            "accept" => "Accepted",
            "accept_with_gaps" => "Accepted with gaps",
            "refuse" => "Refused",
            "request_materials" => "Materials requested",
            "suspend" => "Special procedure",
            "resume" => "Clock resumed",
            "forward" => "Forwarded",
            "approve" => "Department approved",
            "reject" => "Department rejected",
            "complete" => "Completed",
            "decline" => "Declined",
            "deliver" => "Delivered",
            "rate" => "Rated",
            "follow_up" => "Called back",
            "consult" => "Video consult",
            "note" => "Note",
            "settle" => "Conflict settled",
            "supervise" => "Supervision notice",
            "reply_supervision" => "Supervision answered",
            "return_originals" => "Originals returned",
            "supply_gaps" => "Missing materials supplied",
            _ => "Unknown event",
        }
    }

    /// Why a case's due date is provisional, naming the year without a calendar when known.
    pub fn provisional_note(&self, year: Option<i32>) -> String {
        let en = std::ptr::eq(self, &EN);
        match (year, en) {
            (Some(y), false) => {
                format!("{y}年工作日历尚未录入：到期日按{y}年仅周末休息暂算，录入后自动重算。")
            }
            (Some(y), true) => format!(
                "The {y} working-day calendar has not been entered: the due date counts only \
                 weekends as days off in {y} and is recomputed once it is added."
            ),
            (None, false) => "到期日暂定：计算时跨入了尚未录入工作日历的年份。".to_string(),
            (None, true) => {
                "Provisional due date: counted into a year whose working-day calendar has not \
                 been entered."
                    .to_string()
            }
        }
    }

    /// On a receipt: the promised date may still move by that year's statutory holidays.
    pub fn doc_provisional_note(&self, year: Option<i32>) -> String {
        let en = std::ptr::eq(self, &EN);
        match (year, en) {
            (Some(y), false) => format!(
                "注：{y}年法定节假日安排尚未录入，上述承诺办结日按仅周末休息暂定，如遇法定节假日顺延。"
            ),
            (Some(y), true) => format!(
                "Note: the statutory holidays of {y} have not been entered yet; the date above is \
                 provisional (only weekends counted as days off) and moves past any holiday."
            ),
            (None, false) => "注：上述承诺办结日按仅周末休息暂定，如遇法定节假日顺延。".to_string(),
            (None, true) => "Note: the date above is provisional (only weekends counted as days \
                 off) and moves past any statutory holiday."
                .to_string(),
        }
    }

    /// The warning that this computer's clock is off the city's (issue #11).
    pub fn clock_warning(&self, o: &yizhan_node::skew::ClockOffset) -> String {
        let (d, h, m) = o.days_hours_minutes();
        if std::ptr::eq(self, &EN) {
            let dir = if o.fast() { "fast" } else { "slow" };
            format!(
                "This computer's clock is {d} d {h} h {m} min {dir} against the city's. Dates                  are recorded by the city's time; please set the computer's clock."
            )
        } else {
            let dir = if o.fast() { "快" } else { "慢" };
            format!(
                "本机时钟比市中心{dir}{d}天{h}小时{m}分。办件时间已按市中心时间记录，请校正电脑时间。"
            )
        }
    }

    /// The city's reminder, from 1 November, that next year's calendar is missing.
    pub fn calendar_reminder(&self, year: i32) -> String {
        if std::ptr::eq(self, &EN) {
            format!(
                "The {year} working-day calendar has not been entered: due dates in {year} are \
                 provisional, counting only weekends as days off. Add it under Settings → \
                 Calendar."
            )
        } else {
            format!(
                "尚未录入{year}年工作日历：{year}年的到期日按仅周末休息暂算。请在 设置 → 工作日历 中添加。"
            )
        }
    }

    /// The node's refusal in this language. Every variant is worded here, and so is every reason
    /// the node gives as data (refusals, invalid inputs, catalog rows and syntax, calendar
    /// rules); what the node passes on from elsewhere (paths, SQLite's and the file parsers'
    /// messages) is kept as it gave it, so that nothing it says is lost in translation.
    pub fn node_error(&self, e: &yizhan_node::NodeError) -> String {
        use yizhan_node::NodeError as E;
        if std::ptr::eq(self, &EN) {
            return e.to_string();
        }
        match e {
            E::NoStore(p) => format!(
                "{} 中没有驿站数据（请先新建网络或凭邀请码加入）",
                p.display()
            ),
            E::AlreadyInitialised(p) => {
                format!(
                    "{} 已有驿站数据（yizhan.sqlite3），请换一个数据目录",
                    p.display()
                )
            }
            E::NotAStore { path, reason } => {
                format!("{} 不是驿站数据文件：{reason}", path.display())
            }
            E::Damaged { path, reason } => format!(
                "数据文件 {} 已损坏（{reason}）；请从备份恢复，或重新加入网络后同步",
                path.display()
            ),
            E::SchemaTooNew { found, supported } => {
                format!("数据文件版本 {found} 高于本程序支持的版本 {supported}，请升级驿站")
            }
            E::Sqlite(e) => format!("数据库错误：{e}"),
            E::CorruptDocument { doc, reason } => format!("文档 {doc} 已损坏：{reason}"),
            E::Automerge(e) => format!("文档错误：{e}"),
            E::Io { path, source } => format!("{}：{source}", path.display()),
            // The ID number's problems name the field themselves, as the intake form shows them.
            E::InvalidInput {
                problem: Invalid::IdNumber(e),
                ..
            } => self.id_number_error(e),
            E::InvalidInput { field, problem } => {
                format!("{}有误：{}", self.input_field(field), self.invalid(problem))
            }
            E::CaseNotFound(k) => format!("没有编号或标识为 {k} 的办件"),
            E::UnknownItem(c) => format!("事项编码 {c} 不在事项清单中"),
            E::UnknownStation(c) => format!("站点代码 {c} 不在站点名录中"),
            E::NotAllowed { action, reason } => {
                format!("不能{}：{}", self.action_name(action), self.refusal(reason))
            }
            E::Catalog(e) => format!("事项清单未改动：{}", self.catalog_error(e)),
            E::Calendar(e) => format!("日历未修改：{}", self.calendar_error(e)),
            E::BadTime { value } => {
                format!("时间 {value:?} 格式不对，应为 RFC 3339，如 2026-02-13T09:30:00+08:00")
            }
            E::Rejected { doc, reason } => format!("拒收文档 {doc}：{reason}"),
            E::BadCertificate(r) => format!("证书未通过验证：{r}"),
            E::SignInRequired => "本站已有操作员账号，请先登录".to_string(),
            E::SignInFailed => "账号或密码不正确".to_string(),
            E::SignInDelayed { login, seconds } => {
                format!("账号 {login} 密码错误次数过多，请 {seconds} 秒后再试")
            }
            E::Hash(why) => format!("密码处理失败：{why}"),
            E::StoreGone => "数据线程已停止".to_string(),
            E::Busy => "正忙，请稍后再试".to_string(),
        }
    }

    /// What the node refused to do, by the action name of its refusal: a case action's event
    /// kind, or one of the network operations.
    fn action_name(&self, action: &str) -> String {
        let network = match action {
            "catalog edit" => "修改事项清单",
            "catalog import" => "导入事项清单",
            "calendar" => "修改工作日历",
            "settings" => "修改全网设置",
            "station add" => "添加站点",
            "invite" => "邀请节点",
            "join" => "加入网络",
            "revoke" => "吊销节点",
            _ => "",
        };
        if network.is_empty() {
            format!("办理“{}”", self.event_kind(action))
        } else {
            network.to_string()
        }
    }

    /// Why the node refused, in this language.
    pub fn refusal(&self, r: &Refusal) -> String {
        if std::ptr::eq(self, &EN) {
            return r.to_string();
        }
        let status = |s: &Status| format!("办件当前为“{}”", s.label_zh());
        match r {
            Refusal::CityOnly => {
                "只有市级站点可以修改全网文档（站点名录、事项清单、工作日历、全网设置）".into()
            }
            Refusal::WrongTier {
                item_code,
                item_name,
                item_tier,
                here,
            } => format!(
                "{item_name}（{item_code}）由{}受理，本站是{}，请转办",
                item_tier.label_zh(),
                here.label_zh()
            ),
            Refusal::NotHolder { holder, station } => {
                format!("办件现在由{holder}办理，不在本站（{station}）")
            }
            Refusal::NotOnRoute { station } => format!("{station}从未经手此办件"),
            Refusal::WrongStatus(s) => status(s),
            Refusal::AcceptedIsDecided(s) => format!(
                "{}；已受理的办件应作出办结或不予许可的决定，不能不予受理",
                status(s)
            ),
            Refusal::OnlyPausedResumes(s) => {
                format!("{}；只有暂停计时的办件才能恢复计时", status(s))
            }
            Refusal::RateAfterDecision(s) => format!("{}；办结后才能评价", status(s)),
            Refusal::FollowUpAfterDecision(s) => format!("{}；办结后才能回访", status(s)),
            Refusal::GapsNeedMaterials => "容缺受理须列明所缺的材料".into(),
            Refusal::NoticeNeedsMaterials => "一次性告知须列明全部所缺的材料".into(),
            Refusal::GapsOutstanding(items) => format!(
                "容缺材料尚未补齐（{}）：请先登记补齐，或选择不予许可",
                items.join("；")
            ),
            Refusal::NotAGap(items) if items.is_empty() => "请选择已补齐的容缺材料".into(),
            Refusal::NotAGap(items) => format!("不是本件待补齐的容缺材料：{}", items.join("；")),
            Refusal::AlreadyAt(to) => format!("办件已在{to}"),
            Refusal::DeptNotInItem { dept, departments } => format!(
                "部门“{dept}”不参与本事项的审批（审批部门：{}）",
                if departments.is_empty() {
                    "无".to_string()
                } else {
                    departments.join("、")
                }
            ),
            Refusal::DeptAlreadyDecided(dept) => format!("部门“{dept}”已作出决定"),
            Refusal::AlreadyRejected => "已有部门不同意，审批结果已定".into(),
            Refusal::DeptsPending(depts) => {
                format!("部门 {} 尚未作出决定", depts.join("、"))
            }
            Refusal::DuplicateDecision => "该部门已作出相同的决定".into(),
            Refusal::AlreadyRated => "办件已评价过".into(),
            Refusal::NoConflict => "没有需要处理的冲突".into(),
            Refusal::ItemRetired { code, name } => {
                format!("事项 {name}（{code}）已停用，不再受理新件")
            }
            Refusal::ItemInUse { code, cases } => format!(
                "有 {cases} 件办件使用事项 {code}，不能删除；可改为停用，已有办件仍可按事项查询和统计"
            ),
            Refusal::MayNotEnrol {
                issuer_tier,
                issuer,
                subject_tier,
                subject,
            } => format!(
                "{}（{issuer}）不能为{} {subject} 邀请节点",
                issuer_tier.label_zh(),
                subject_tier.label_zh()
            ),
            Refusal::TicketUnknown => "此邀请码不是本站签发的".into(),
            Refusal::TicketUsed => "此邀请码已被使用".into(),
            Refusal::TicketExpired => "此邀请码已过期，请重新索取".into(),
            Refusal::TownshipRevokeScope => "乡镇只能吊销本站及下辖村站的节点".into(),
            Refusal::VillageMayNotRevoke => "村站不能吊销节点".into(),
            Refusal::RoleNeeded { needed, role, dept } => {
                let names: Vec<&str> = needed.iter().map(|r| r.label_zh()).collect();
                match dept {
                    Some(d) => format!(
                        "须由“{d}”的{}办理，当前操作员是{}",
                        names.join("或"),
                        role.label_zh()
                    ),
                    None => format!(
                        "须由{}办理，当前操作员是{}",
                        names.join("或"),
                        role.label_zh()
                    ),
                }
            }
            Refusal::OtherDepartment { dept, own } => {
                format!("须由“{dept}”的部门审核员签署，当前操作员审核的是“{own}”")
            }
            Refusal::AccountDisabled { name, at } => {
                format!(
                    "{name} 的账号已于 {} 停用",
                    yizhan_node::clock::format_ms(*at)
                )
            }
            Refusal::UnknownRole(r) => format!("角色“{r}”是新版驿站的，本机不认识"),
            Refusal::FirstAccountAdmin => "本站的第一个账号须为管理员，并设置密码".into(),
            Refusal::AccountsOfOtherStation(s) => {
                format!("站点 {s} 的账号须在该站或其上级站点管理")
            }
            Refusal::SupervisorTier => "督办由市中心或乡镇（对下辖村站）发起".into(),
            Refusal::NoOpenSupervision => "此办件没有待回复的该项督办".into(),
        }
    }

    /// Why a timeline entry did not apply or is flagged, in this language.
    pub fn problem(&self, p: &Problem) -> String {
        if std::ptr::eq(self, &EN) {
            return p.to_string();
        }
        match p {
            Problem::Refused(r) => self.refusal(r),
            Problem::Concurrent => "与另一状态变更同时作出（冲突）".into(),
            Problem::Duplicate => "重复的决定".into(),
            Problem::Malformed(kind) => format!("未知或格式不对的事件“{kind}”"),
        }
    }

    /// A refused catalog (an import or an edit), in this language.
    pub fn catalog_error(&self, e: &CatalogError) -> String {
        if std::ptr::eq(self, &EN) {
            return e.to_string();
        }
        match e {
            CatalogError::Syntax { format, problem } => {
                format!("文件不是有效的 {format}：{}", self.syntax_problem(problem))
            }
            CatalogError::Rows(rows) => {
                let (shown, more) = CatalogError::listed(rows);
                let mut text = format!(
                    "{} 处有误：{}",
                    rows.len(),
                    shown
                        .iter()
                        .map(|r| format!("第 {} 行 {}", r.row, self.row_error(r)))
                        .collect::<Vec<_>>()
                        .join("；")
                );
                if more > 0 {
                    text.push_str(&format!("；……另有 {more} 处"));
                }
                text
            }
            CatalogError::Empty => "没有事项".into(),
            CatalogError::TooLarge { bytes, max } => {
                format!("文件有 {bytes} 字节，超过事项目录的上限 {max} 字节")
            }
            CatalogError::TooManyItems { found, max } => {
                format!("文件的事项超过 {max} 项（至少 {found} 项）")
            }
            CatalogError::Io { path, source } => format!("无法读取 {}：{source}", path.display()),
        }
    }

    /// Why a catalog file could not be read, in this language; the parsers' own messages are
    /// kept as they gave them.
    pub fn syntax_problem(&self, p: &SyntaxProblem) -> String {
        if std::ptr::eq(self, &EN) {
            return p.to_string();
        }
        match p {
            SyntaxProblem::Parser(message) => message.clone(),
            SyntaxProblem::NotUtf8 { line } => {
                format!("文件第 {line} 行不是 UTF-8 编码（请另存为 UTF-8，而不是 GBK）")
            }
            SyntaxProblem::NotAnArray(found) => {
                format!("应为事项的列表，实为{}", json_type_zh(found))
            }
            SyntaxProblem::UnknownColumn(name) => format!("表头中的列“{name}”不是事项清单的字段"),
            SyntaxProblem::ColumnTwice(name) => format!("表头中的列“{name}”出现了两次"),
            SyntaxProblem::NoColumn(column) => format!("表头缺少列“{column}”"),
            SyntaxProblem::Record { row, problem } => {
                format!("第 {row} 行：{}", self.syntax_problem(problem))
            }
        }
    }

    /// One problem of one catalog row: the field, then what is wrong with it.
    pub fn row_error(&self, e: &RowError) -> String {
        if std::ptr::eq(self, &EN) {
            return format!("{}: {}", e.field, e.problem);
        }
        format!(
            "{}：{}",
            self.catalog_field(&e.field),
            self.row_problem(&e.problem)
        )
    }

    /// The name of a catalog field (the import format's column name).
    pub fn catalog_field(&self, field: &str) -> String {
        let en = std::ptr::eq(self, &EN);
        let name = match (field, en) {
            ("code", false) => "事项编码",
            ("code", true) => "Code",
            ("name", false) => "事项名称",
            ("name", true) => "Name",
            ("kind", false) => "办件类型",
            ("kind", true) => "Kind",
            ("legal_days", false) => "法定时限",
            ("legal_days", true) => "Legal limit",
            ("promised_days", false) => "承诺时限",
            ("promised_days", true) => "Promised limit",
            ("materials", false) => "申请材料",
            ("materials", true) => "Materials",
            ("tier", false) => "受理层级",
            ("tier", true) => "Handled at",
            ("departments", false) => "审批部门",
            ("departments", true) => "Departments",
            ("conditions", false) => "受理条件",
            ("conditions", true) => "Conditions",
            ("retired", false) => "停用",
            ("retired", true) => "Retired",
            ("row", false) => "整行",
            ("row", true) => "Row",
            (other, false) => return format!("“{other}”"),
            (other, true) => return other.to_string(),
        };
        name.to_string()
    }

    /// What is wrong with one field of a catalog row, in this language.
    pub fn row_problem(&self, p: &RowProblem) -> String {
        if std::ptr::eq(self, &EN) {
            return p.to_string();
        }
        let json = json_type_zh;
        match p {
            RowProblem::Empty => "不能为空".into(),
            RowProblem::Missing => "缺少此项".into(),
            RowProblem::UnknownField => "不是事项清单的字段".into(),
            RowProblem::Whitespace(code) => format!("“{code}”含有空格"),
            RowProblem::TooLong { max, .. } => format!("超过 {max} 个字符"),
            RowProblem::Duplicate { code, first_row } => {
                format!("“{code}”与第 {first_row} 行重复")
            }
            RowProblem::MoreThan { value, max } => format!("{value} 超过上限 {max}"),
            RowProblem::PromisedOverLegal { promised, legal } => {
                format!("{promised} 天超过法定时限 {legal} 天")
            }
            RowProblem::InstantNotZero(p) => format!("即办件的承诺时限应为 0，现为 {p}"),
            RowProblem::PromisedZero => "承诺件的承诺时限至少为 1 个工作日".into(),
            RowProblem::NoMaterials => "承诺件须列出申请材料".into(),
            RowProblem::ListedTwice(d) => format!("“{d}”列了两次"),
            RowProblem::Negative(v) => format!("{v} 是负数"),
            RowProblem::TooLarge(v) => format!("{v} 过大"),
            RowProblem::NotWholeDays(v) => format!("{v} 不是整数天"),
            RowProblem::WrongType { expected, found } => {
                format!("应为{}，实为{}", json(expected), json(found))
            }
            RowProblem::WrongEntry { entry, found } => {
                format!("第 {entry} 项是{}，应为文本", json(found))
            }
            RowProblem::UnknownKind(k) => {
                format!("未知的类型“{k}”（应为即办件、承诺件或咨询件）")
            }
            RowProblem::UnknownTier(t) => format!("未知的层级“{t}”（应为村、乡镇或市）"),
            RowProblem::FieldCount { found, header } => {
                format!("有 {found} 列，表头只有 {header} 列")
            }
            RowProblem::NotAFlag(v) => format!("“{v}”不是“是”或“否”"),
            RowProblem::AlreadyInCatalog(code) => format!("“{code}”已在事项清单中"),
        }
    }

    /// A refused calendar rule, in this language.
    pub fn calendar_error(&self, e: &CalendarError) -> String {
        if std::ptr::eq(self, &EN) {
            return e.to_string();
        }
        match e {
            CalendarError::WrongYear { year, date } => {
                format!("{} 不在 {year} 年内", date.format("%Y-%m-%d"))
            }
            CalendarError::Both { date, .. } => {
                format!("{} 不能既是节假日又是调休上班日", date.format("%Y-%m-%d"))
            }
            CalendarError::OutOfRange(year) => format!("年份 {year} 超出范围（2000–2100）"),
        }
    }

    /// What is wrong with a typed-in value, in this language (without the field's name, which
    /// [`Tr::node_error`] puts in front).
    pub fn invalid(&self, p: &Invalid) -> String {
        if std::ptr::eq(self, &EN) {
            return p.to_string();
        }
        let tier =
            |t: &str| Tier::parse(t).map_or_else(|| format!("“{t}”"), |t| t.label_zh().into());
        match p {
            // The field's name already says which name or value it is.
            Invalid::Empty | Invalid::StationNameEmpty | Invalid::NetworkNameEmpty => {
                "不能为空".into()
            }
            Invalid::Between { min, max } => format!("应为 {min} 到 {max}"),
            Invalid::WorkingDaysBetween { min, max } => {
                format!("应为 {min} 到 {max} 个工作日")
            }
            Invalid::Length { min, max } => format!("应为 {min} 到 {max} 个字符"),
            Invalid::CodeCharacters(code) => {
                format!("“{code}”只能含英文字母、数字、“-”和“_”")
            }
            Invalid::TooLong { max } => format!("超过 {max} 个字符"),
            Invalid::ControlCharacters => "含有控制字符".into(),
            Invalid::Phone => self.phone_invalid.into(),
            Invalid::IdNumber(e) => self.id_number_error(e),
            Invalid::NotDelegated => "只有代办件才有委托书".into(),
            Invalid::NothingCreated => "没有登记任何办件".into(),
            Invalid::RatingLevel => "应为 1（非常满意）到 5（非常不满意）".into(),
            Invalid::ReasonNeeded => "不予受理、不同意或不予许可都须写明理由".into(),
            Invalid::StationExists(code) => format!("站点 {code} 已存在"),
            Invalid::UnknownTier(t) => format!("“{t}”不是村、乡镇或市"),
            Invalid::SecondCity => "一个网络只有一个市级站点".into(),
            Invalid::WrongParent {
                tier,
                expected,
                parent,
                parent_tier,
            } => format!(
                "{}的上级应为{}，但 {parent} 是{}",
                tier.label_zh(),
                expected.label_zh(),
                parent_tier.label_zh()
            ),
            Invalid::StationExistsAs {
                code,
                tier: t,
                parent,
            } => format!(
                "站点 {code} 已存在，为{}，{}；邀请时请填写相同的层级和上级站点",
                tier(t),
                if parent.is_empty() {
                    "无上级站点".to_string()
                } else {
                    format!("上级站点为 {parent}")
                }
            ),
            Invalid::NotANodeId => "不是节点标识（应为 64 位十六进制数）".into(),
            Invalid::NotAnAddress => "不是有效的地址（应为 地址:端口，例如 0.0.0.0:7227）".into(),
            Invalid::NotAUrl => "不是有效的网址（应以 http:// 或 https:// 开头）".into(),
            Invalid::UnknownPlaceholder(p) => format!(
                "含有未知的占位符 {p}（可用：{}）",
                yizhan_node::notice::PLACEHOLDERS.join(" ")
            ),
            Invalid::RevokeSelf => "节点不能吊销自己".into(),
            Invalid::NotAMember(node) => format!("{node} 不是本网络的节点"),
            Invalid::ThisNode => "是本节点自己".into(),
            Invalid::LoginTaken(l) => format!("本站已有账号 {l}"),
            Invalid::LoginCharacters(l) => format!("“{l}”只能由字母、数字、点、横线和下划线组成"),
            Invalid::UnknownRole(r) => {
                format!("“{r}”不是代办员、窗口人员、部门审核员、督办人员或管理员")
            }
            Invalid::DeptNeeded => "部门审核员须填写所属部门".into(),
            Invalid::SecretLength { min, max } => format!("应为 {min} 到 {max} 个字符"),
            Invalid::UnknownAccount(l) => format!("本站没有账号 {l}"),
            Invalid::DisableSelf => "不能停用自己的账号".into(),
            Invalid::PasswordElsewhere(s) => {
                format!("站点 {s} 的密码须在该站设置，密码不离开本站")
            }
        }
    }

    /// Why a resident ID number does not validate, naming the field (the intake form shows it
    /// beside the field, and the node's refusal of it reads the same).
    pub fn id_number_error(&self, e: &IdNumberError) -> String {
        match e {
            IdNumberError::Length(n) => format!("{} {n}", self.id_len),
            IdNumberError::Character(i) => format!("{} {i}", self.id_char),
            IdNumberError::BirthDate => self.id_birth.to_string(),
            // The right check digit is not said: a clerk who is told it would type it in
            // instead of finding the mistyped digit.
            IdNumberError::CheckDigit { .. } => self.id_check.to_string(),
        }
    }

    /// The name of a field the node validates, for its refusals (Chinese only; English keeps
    /// the node's own name). Every field name the node passes to `NodeError::invalid` is here;
    /// an unknown one is shown quoted rather than lost.
    fn input_field(&self, field: &str) -> String {
        match field {
            "applicant name" => "申请人姓名",
            "ID number" => "身份证号",
            "phone" => "联系电话",
            "address" => "地址",
            "operator" => "操作员",
            "login" => "登录名",
            "person name" => "姓名",
            "password" => "密码",
            "role" => "角色",
            "department" => "部门",
            "reply days" => "回复期限",
            "lock minutes" => "自动锁定时间",
            // Every `code` the node validates this way is a station's (items have their own
            // checks, in the catalog's row problems).
            "code" => "站点代码",
            // So is every `name`.
            "name" => "站点名称",
            "network" => "网络名称",
            "tier" => "层级",
            "parent" => "上级站点",
            "delegation" => "代办信息",
            "materials handed over" => "已交材料",
            "case" => "办件",
            "minutes" => "咨询时长",
            "level" => "评价等级",
            "reason" => "理由",
            "text" => "备注内容",
            "note" => "冲突处理说明",
            "summary" => "纪要",
            "comment" => "评价意见",
            "promise" => "申请人承诺",
            "node id" => "节点标识",
            "listen address" => "监听地址",
            "relay" => "中继服务器",
            "valid days" => "有效天数",
            "yellow_percent" => "黄灯阈值",
            "follow_up_days" => "整改时限",
            other => return format!("“{other}”"),
        }
        .to_string()
    }

    /// An action checked in the detail view, by its key (`approve:税务局` names the department).
    pub fn action_key(&self, key: &str) -> String {
        match key.split_once(':') {
            Some((kind, dept)) => format!("{} {dept}", self.event_kind(kind)),
            None => self.event_kind(key).to_string(),
        }
    }

    /// An event field's name.
    pub fn field_name(&self, field: &str) -> &'static str {
        let en = std::ptr::eq(self, &EN);
        match (field, en) {
            ("to", false) => "转至",
            ("to", true) => "to",
            ("dept", false) => "部门",
            ("dept", true) => "department",
            ("reason", false) => "理由",
            ("reason", true) => "reason",
            ("missing", false) => "材料",
            ("missing", true) => "materials",
            ("promise", false) => "承诺",
            ("promise", true) => "promise",
            ("level", false) => "评价",
            ("level", true) => "rating",
            ("comment", false) => "意见",
            ("comment", true) => "comment",
            ("summary", false) => "纪要",
            ("summary", true) => "summary",
            ("with", false) => "咨询站点",
            ("with", true) => "with",
            ("minutes", false) => "分钟",
            ("minutes", true) => "minutes",
            ("text", false) => "内容",
            ("text", true) => "text",
            ("note", false) => "说明",
            ("note", true) => "note",
            ("reply_days", false) => "回复期限（工作日）",
            ("reply_days", true) => "reply within (working days)",
            ("items", false) => "物品",
            ("items", true) => "items",
            (_, false) => "字段",
            (_, true) => "field",
        }
    }
}

/// A JSON type as the catalog parser names it (`a number`, `an object` …), in Chinese.
fn json_type_zh(t: &str) -> &'static str {
    match t {
        "a number" => "数字",
        "a string" => "文本",
        "an array of strings" => "文本列表",
        "an array" => "列表",
        "an object" => "对象",
        "a boolean" => "是或否（true/false）",
        "null" => "空值",
        _ => "其他类型",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_the_default_and_both_tables_are_filled() {
        assert_eq!(Lang::default(), Lang::Zh);
        assert_eq!(Lang::Zh.tr().act_accept, "受理");
        assert_eq!(Lang::En.tr().act_accept, "Accept");
        assert_eq!(EN.status(Status::Accepted), "In progress");
        assert_eq!(ZH.status(Status::Accepted), "办理中");
        assert_eq!(ZH.action_key("approve:税务局"), "部门同意 税务局");
    }

    /// Every field name the node passes to `NodeError::invalid` (the literals at its call sites,
    /// `check_text` and `validate_code` included, and the action text fields of `Node::act`).
    const NODE_FIELDS: [&str; 34] = [
        "login",
        "person name",
        "password",
        "role",
        "department",
        "reply days",
        "lock minutes",
        "listen address",
        "relay",
        "applicant name",
        "ID number",
        "phone",
        "address",
        "operator",
        "code",
        "name",
        "network",
        "tier",
        "parent",
        "delegation",
        "materials handed over",
        "case",
        "minutes",
        "level",
        "reason",
        "text",
        "note",
        "summary",
        "comment",
        "promise",
        "node id",
        "valid days",
        "yellow_percent",
        "follow_up_days",
    ];

    /// One of each problem, with values that have no ASCII letters of their own, so that any
    /// letter in the Chinese rendering is an untranslated word.
    fn every_problem() -> Vec<Invalid> {
        vec![
            Invalid::Empty,
            Invalid::StationNameEmpty,
            Invalid::NetworkNameEmpty,
            Invalid::Between { min: 1, max: 100 },
            Invalid::WorkingDaysBetween { min: 1, max: 365 },
            Invalid::Length { min: 1, max: 32 },
            Invalid::CodeCharacters("北格 01".into()),
            Invalid::TooLong { max: 200 },
            Invalid::ControlCharacters,
            Invalid::Phone,
            Invalid::IdNumber(IdNumberError::Length(17)),
            Invalid::IdNumber(IdNumberError::Character(3)),
            Invalid::IdNumber(IdNumberError::BirthDate),
            Invalid::IdNumber(IdNumberError::CheckDigit { expected: '7' }),
            Invalid::NotDelegated,
            Invalid::NothingCreated,
            Invalid::RatingLevel,
            Invalid::ReasonNeeded,
            Invalid::StationExists("0101".into()),
            Invalid::UnknownTier("县".into()),
            Invalid::SecondCity,
            Invalid::WrongParent {
                tier: Tier::Village,
                expected: Tier::Township,
                parent: "0001".into(),
                parent_tier: Tier::City,
            },
            Invalid::StationExistsAs {
                code: "0001".into(),
                tier: "city".into(),
                parent: String::new(),
            },
            Invalid::StationExistsAs {
                code: "0101".into(),
                tier: "village".into(),
                parent: "0100".into(),
            },
            Invalid::NotANodeId,
            Invalid::NotAnAddress,
            Invalid::RevokeSelf,
            Invalid::NotAMember("01234567".into()),
            Invalid::ThisNode,
            Invalid::LoginTaken("01".into()),
            Invalid::LoginCharacters("李四".into()),
            Invalid::UnknownRole("司机".into()),
            Invalid::DeptNeeded,
            Invalid::SecretLength { min: 4, max: 128 },
            Invalid::UnknownAccount("007".into()),
            Invalid::DisableSelf,
            Invalid::PasswordElsewhere("0101".into()),
        ]
    }

    #[test]
    fn invalid_input_reads_in_chinese_with_only_values_left_as_they_are() {
        use yizhan_node::NodeError;
        let problems = every_problem();
        for field in NODE_FIELDS {
            for problem in &problems {
                let zh = ZH.node_error(&NodeError::invalid(field, problem.clone()));
                assert!(
                    !zh.chars().any(|c| c.is_ascii_alphabetic()),
                    "{field}: {problem}: {zh}"
                );
                // English stays the node's own wording, which the command line prints.
                let en = NodeError::invalid(field, problem.clone());
                assert_eq!(EN.node_error(&en), en.to_string());
            }
        }
        assert_eq!(
            ZH.node_error(&NodeError::invalid(
                "yellow_percent",
                Invalid::Between { min: 1, max: 100 }
            )),
            "黄灯阈值有误：应为 1 到 100"
        );
        let wrong_parent = problems
            .iter()
            .find(|p| matches!(p, Invalid::WrongParent { .. }))
            .expect("every problem includes a wrong parent");
        assert_eq!(
            ZH.node_error(&NodeError::invalid("parent", wrong_parent.clone())),
            "上级站点有误：村级便民服务站的上级应为乡镇便民服务中心，但 0001 是市政务服务中心"
        );
        assert_eq!(
            ZH.node_error(&NodeError::invalid(
                "ID number",
                Invalid::IdNumber(IdNumberError::Length(17))
            )),
            "身份证号应为 18 位，现为 17"
        );
    }

    #[test]
    fn catalog_file_problems_read_in_chinese() {
        let csv = yizhan_node::catalog::Catalog::from_csv(
            b"code,name,kind,legal_days,materials,tier\nA-1,x,instant,0,a,city\n",
        )
        .expect_err("the header lacks promised_days");
        assert_eq!(
            ZH.catalog_error(&csv),
            "文件不是有效的 CSV：表头缺少列“promised_days”"
        );
        let record = SyntaxProblem::Record {
            row: 1,
            problem: Box::new(SyntaxProblem::NotUtf8 { line: 2 }),
        };
        assert_eq!(
            ZH.syntax_problem(&record),
            "第 1 行：文件第 2 行不是 UTF-8 编码（请另存为 UTF-8，而不是 GBK）"
        );
        assert_eq!(
            ZH.syntax_problem(&SyntaxProblem::NotAnArray("an object")),
            "应为事项的列表，实为对象"
        );
        assert_eq!(EN.syntax_problem(&record), record.to_string());
    }
}
