//! Operator accounts through the real binary (issue #12): the first account is the station's
//! administrator, from then on case commands need a sign-in, roles are enforced with a message
//! naming the role, wrong passwords are refused and delayed, and `stats --by operator` ranks the
//! people.

use super::{entry, network, s, u};
use crate::support::Yizhan;

/// Adds the station's first account, its administrator `admin` (password `admin-pin`), and
/// returns the command line signed in as them.
fn add_admin(y: &Yizhan) -> Yizhan {
    let admin = y.clone().env("YIZHAN_PASSWORD", "admin-pin");
    admin.ok(&[
        "operator",
        "add",
        "--login",
        "admin",
        "--name",
        "管理员",
        "--role",
        "admin",
    ]);
    admin.env("YIZHAN_OPERATOR", "admin")
}

/// Adds an account as `admin` with the password `pin`: `[login, name, role, more options…]`.
fn add_account(admin: &Yizhan, pin: &str, account: &[&str]) {
    let [login, name, role, more @ ..] = account else {
        panic!("an account needs a login, a name and a role");
    };
    let mut args = vec![
        "operator", "add", "--login", login, "--name", name, "--role", role,
    ];
    args.extend_from_slice(more);
    admin.clone().env("YIZHAN_NEW_PASSWORD", pin).ok(&args);
}

#[test]
fn accounts_sign_ins_roles_and_the_ranking_through_the_command_line() {
    let (_tmp, y) = network();
    // The first account must be an administrator.
    let first = y.clone().env("YIZHAN_PASSWORD", "admin-pin").refused(&[
        "operator", "add", "--login", "zhang", "--name", "张三", "--role", "clerk",
    ]);
    assert!(first.contains("administrator"), "{first}");
    let admin = add_admin(&y);

    // From now on a case command needs a sign-in, and a wrong password is refused.
    let line = y.refused(&["case", "list"]);
    assert!(line.contains("sign in"), "{line}");
    let wrong = y
        .clone()
        .env("YIZHAN_OPERATOR", "admin")
        .env("YIZHAN_PASSWORD", "nope");
    assert!(
        wrong
            .refused(&["case", "list"])
            .contains("wrong login or password")
    );

    add_account(
        &admin,
        "clerk-pin",
        &["zhang", "张窗口", "clerk", "--phone", "0351-7654321"],
    );
    add_account(
        &admin,
        "review-pin",
        &["scjg", "市场审核", "reviewer", "--dept", "市场监管局"],
    );
    let list = admin.json(&["operator", "list"]);
    let zhang = entry(&list["accounts"], "login", "zhang");
    assert_eq!(s(&zhang["role"], "role"), "clerk");
    assert_eq!(zhang["password_here"], true);
    // The hash is never printed.
    assert!(!list.to_string().contains("argon2"), "{list}");

    let clerk = y
        .clone()
        .env("YIZHAN_OPERATOR", "zhang")
        .env("YIZHAN_PASSWORD", "clerk-pin");
    let reviewer = y
        .env("YIZHAN_OPERATOR", "scjg")
        .env("YIZHAN_PASSWORD", "review-pin");
    let created = clerk.json(&["case", "new", "--item", "CT-001", "--applicant", "王五"]);
    let id = s(&created["id"], "id").to_string();
    // A reviewer does not accept cases: the message names the roles that do.
    let line = reviewer.refused(&["case", "accept", &id]);
    assert!(
        line.contains("clerk") && line.contains("reviewer"),
        "{line}"
    );
    clerk.ok(&["case", "accept", &id]);
    let done = clerk.json(&["case", "complete", &id]);
    let timeline = done["timeline"].as_array().expect("a timeline");
    let last = timeline.last().expect("an event");
    assert_eq!(s(&last["operator"], "operator"), "张窗口");
    clerk.ok(&["case", "rate", &id, "--level", "1"]);

    let ranking = admin.json(&["stats", "--by", "operator"]);
    let row = entry(&ranking["ranking"], "name", "张窗口");
    assert_eq!(u(&row["decided"], "decided"), 1);
    assert_eq!(u(&row["on_time"], "on time"), 1);
    assert_eq!(row["satisfaction_rate"], 1.0);

    // Disabling: the administrator may not disable themself; a disabled clerk cannot sign in.
    assert!(
        admin
            .refused(&["operator", "disable", "admin"])
            .contains("own account")
    );
    admin.ok(&["operator", "disable", "zhang", "--reason", "调岗"]);
    assert!(
        clerk
            .refused(&["case", "list"])
            .contains("wrong login or password")
    );
}

/// Issue #13: the station's phone for questions about progress (本站咨询电话, printed on its
/// receipts) is set by an administrator of the station or of a parent station, checked as a
/// number an applicant can dial, listed with the stations, and cleared with an empty number.
#[test]
fn the_station_phone_is_set_by_an_administrator_and_listed_with_the_stations() {
    let (_tmp, y) = network();
    let phone_of = |y: &Yizhan, code: &str| {
        entry(&y.json(&["station", "list"]), "code", code)["phone"].clone()
    };
    assert!(phone_of(&y, "C01").is_null());
    let admin = add_admin(&y);
    add_account(&admin, "clerk-pin", &["zhang", "张窗口", "clerk"]);
    let clerk = y
        .env("YIZHAN_OPERATOR", "zhang")
        .env("YIZHAN_PASSWORD", "clerk-pin");
    let line = clerk.refused(&["station", "set-phone", "0351-1234567"]);
    assert!(line.contains("admin"), "{line}");
    // A bare local number cannot be dialled from another county.
    let line = admin.refused(&["station", "set-phone", "1234567"]);
    assert!(line.contains("phone"), "{line}");

    let said = admin.ok(&["station", "set-phone", "0351-1234567"]);
    assert!(said.contains("0351-1234567"), "{said}");
    assert_eq!(phone_of(&admin, "C01"), "0351-1234567");
    // The city's administrator sets a village's phone too.
    admin.ok(&["station", "set-phone", "--station", "V01", "13900001111"]);
    assert_eq!(phone_of(&admin, "V01"), "13900001111");
    let human = admin.ok(&["station", "list"]);
    assert!(human.contains("咨询电话 0351-1234567"), "{human}");
    admin.ok(&["station", "set-phone", ""]);
    assert!(phone_of(&admin, "C01").is_null());
}
