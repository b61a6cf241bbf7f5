#!/usr/bin/env bash
# Screenshots of the station window on the demo county, under Xvfb, at 1280×800 and 1024×640.
#
#   ./scripts/screenshots.sh            # writes docs/screenshots/<screen>-<width>.png
#   ONLY=inbox ./scripts/screenshots.sh # one screen, at both sizes
#
# Needs (Debian/Ubuntu): xvfb, xdotool, imagemagick, and a CJK font (fonts-wqy-microhei or
# fonts-noto-cjk). Each screenshot runs a fresh `yizhan demo` on its own X display and opens the
# screen it wants through the window's hidden switches YIZHAN_STATION (an index into the station
# switcher) and YIZHAN_SCREEN (inbox, cases, detail, intake, dashboard, sync, settings, the
# settings' settings-catalog, settings-calendar, settings-people and settings-templates tabs, and
# signin: the window locked), so nothing depends on where a button happens to be drawn. The station-* shots are a real township that runs only its window beside a
# city running `yizhan serve` (its inbox with three cases sent down, its sync panel).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in Xvfb xdotool import; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool not found; apt-get install xvfb xdotool imagemagick" >&2
        exit 1
    }
done

# YIZHAN_BIN=path uses a binary already built (a debug build is fine for pictures).
if [ -n "${YIZHAN_BIN:-}" ]; then
    bin=$YIZHAN_BIN
else
    cargo build --release -p yizhan --bin yizhan
    bin=${CARGO_TARGET_DIR:-$PWD/target}/release/yizhan
fi
out=docs/screenshots
mkdir -p "$out"
# Seconds to let the county enrol, sync and the window load before the picture is taken.
settle=${SETTLE:-8}

# name, station index (0 city, 1 东岭镇, 3 桃园村; "-" for the first-run start screen on an
# empty data directory), YIZHAN_SCREEN
shots=(
    "start - -"
    "inbox 1 inbox"
    "inbox-village 3 inbox"
    "list 0 cases"
    "detail 1 detail"
    "intake 3 intake"
    "dashboard 0 dashboard"
    "sync 1 sync"
    "settings 0 settings"
    "settings-catalog 0 settings-catalog"
    "settings-calendar 0 settings-calendar"
    "settings-people 1 settings-people"
    "settings-templates 0 settings-templates"
    "signin 3 signin"
)

display=91
shoot() {
    local w=$1 h=$2 name=$3 station=$4 screen=$5
    display=$((display + 1))
    Xvfb ":$display" -screen 0 "${w}x${h}x24" -nolisten tcp &
    local xvfb=$!
    # Wait for the server to accept clients (up to 15 s: a loaded machine is slow to start it).
    for _ in $(seq 150); do
        DISPLAY=":$display" xdotool getdisplaygeometry >/dev/null 2>&1 && break
        sleep 0.1
    done
    local empty
    empty=$(mktemp -d)
    if [ "$station" = "-" ]; then
        DISPLAY=":$display" "$bin" --data "$empty/data" \
            >/dev/null 2>"/tmp/yizhan-shot-$name-$w.log" &
    elif [ "$station" = "real" ]; then
        # A real township that runs only its window, beside a city running `yizhan serve`.
        DISPLAY=":$display" YIZHAN_SCREEN=$screen "$bin" --data "$real/town" \
            >/dev/null 2>"/tmp/yizhan-shot-$name-$w.log" &
    else
        DISPLAY=":$display" YIZHAN_STATION=$station YIZHAN_SCREEN=$screen \
            "$bin" demo --seed 7 >/dev/null 2>"/tmp/yizhan-shot-$name-$w.log" &
    fi
    local app=$!
    # Without a window manager the window keeps its own size: fit it to the screen.
    local win=""
    for _ in $(seq 100); do
        win=$(DISPLAY=":$display" xdotool search --name "Yizhan" 2>/dev/null | head -n1 || true)
        [ -n "$win" ] && break
        sleep 0.2
    done
    if [ -z "$win" ]; then
        echo "error: the window did not open for $name at ${w}x${h}; see /tmp/yizhan-shot-$name-$w.log" >&2
        kill "$app" "$xvfb" 2>/dev/null || true
        exit 1
    fi
    DISPLAY=":$display" xdotool windowmove "$win" 0 0 windowsize "$win" "$w" "$h"
    # The pointer rests on the status bar, where hovering shows nothing.
    DISPLAY=":$display" xdotool mousemove $((w / 2)) $((h - 4))
    sleep "$settle"
    DISPLAY=":$display" import -window root "$out/$name-$w.png"
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
    kill "$xvfb" 2>/dev/null || true
    wait "$xvfb" 2>/dev/null || true
    rm -rf "$empty"
    echo "$out/$name-$w.png"
}

# A real station: a city serving, a township joined with a ticket, a few cases sent down to it.
real=$(mktemp -d)
"$bin" --data "$real/city" init --network 太原市政务服务网 --code 140100 --name 太原市政务服务中心 >/dev/null
"$bin" --data "$real/city" serve --listen 127.0.0.1:0 >"$real/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true; rm -rf "$real"' EXIT
for _ in $(seq 100); do grep -q listening "$real/serve.log" && break; sleep 0.1; done
ticket=$("$bin" --data "$real/city" invite --code 140105 --name 小店区北格镇便民服务中心 --tier township 2>/dev/null)
"$bin" --data "$real/town" join "$ticket" >/dev/null
for who in 王秀英 李建国 张桂兰; do
    number=$("$bin" --data "$real/city" --json case new --item TS-004 --applicant "$who" |
        sed -n 's/.*"number":"\([^"]*\)".*/\1/p')
    "$bin" --data "$real/city" case forward --to 140105 "$number" >/dev/null
done
shots+=("station-inbox real inbox" "station-sync real sync")

for size in "1280 800" "1024 640"; do
    for shot in "${shots[@]}"; do
        # ONLY=name takes one screen's pictures (both sizes), for checking a single change.
        if [ -n "${ONLY:-}" ] && [ "${shot%% *}" != "$ONLY" ]; then continue; fi
        # shellcheck disable=SC2086
        shoot $size $shot
    done
done
