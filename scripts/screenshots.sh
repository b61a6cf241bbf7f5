#!/usr/bin/env bash
# Screenshots of the station window on the demo county, under Xvfb, at 1280×800 and 1024×640.
#
#   ./scripts/screenshots.sh            # writes docs/screenshots/<screen>-<width>.png
#
# Needs (Debian/Ubuntu): xvfb, xdotool, imagemagick, and a CJK font (fonts-wqy-microhei or
# fonts-noto-cjk). Each screenshot runs a fresh `yizhan demo` on its own X display and opens the
# screen it wants through the window's hidden switches YIZHAN_STATION (an index into the station
# switcher) and YIZHAN_SCREEN (cases, detail, intake, dashboard, sync, settings, and the settings'
# settings-catalog and settings-calendar tabs), so nothing depends on where a button happens to be
# drawn.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in Xvfb xdotool import; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool not found; apt-get install xvfb xdotool imagemagick" >&2
        exit 1
    }
done

cargo build --release -p yizhan --bin yizhan
bin=$PWD/target/release/yizhan
out=docs/screenshots
mkdir -p "$out"
# Seconds to let the county enrol, sync and the window load before the picture is taken.
settle=${SETTLE:-8}

# name, station index (0 city, 1 东岭镇, 3 桃园村; "-" for the first-run start screen on an
# empty data directory), YIZHAN_SCREEN
shots=(
    "start - -"
    "list 0 cases"
    "detail 1 detail"
    "intake 3 intake"
    "dashboard 0 dashboard"
    "sync 1 sync"
    "settings 0 settings"
    "settings-catalog 0 settings-catalog"
    "settings-calendar 0 settings-calendar"
)

display=91
shoot() {
    local w=$1 h=$2 name=$3 station=$4 screen=$5
    display=$((display + 1))
    Xvfb ":$display" -screen 0 "${w}x${h}x24" -nolisten tcp &
    local xvfb=$!
    # Wait for the server to accept clients.
    for _ in $(seq 50); do
        DISPLAY=":$display" xdotool getdisplaygeometry >/dev/null 2>&1 && break
        sleep 0.1
    done
    local empty
    empty=$(mktemp -d)
    if [ "$station" = "-" ]; then
        DISPLAY=":$display" "$bin" --data "$empty/data" \
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

for size in "1280 800" "1024 640"; do
    for shot in "${shots[@]}"; do
        # shellcheck disable=SC2086
        shoot $size $shot
    done
done
