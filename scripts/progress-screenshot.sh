#!/usr/bin/env bash
# A screenshot of the progress page (办件查询, issue #15) as an applicant's phone shows it:
# headless Chromium at 390×844 on a real `yizhan serve --http` with a real case.
#
#   ./scripts/progress-screenshot.sh      # writes docs/screenshots/progress-phone.png
#
# Needs Debian's chromium (apt-get install chromium) and a CJK font (fonts-wqy-microhei). Not
# part of CI: the page's behaviour is tested by gui/tests/it/progress_page.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
    echo "error: chromium not found; apt-get install chromium" >&2
    exit 1
fi
if [ -n "${YIZHAN_BIN:-}" ]; then
    bin=$YIZHAN_BIN
else
    cargo build --release -p yizhan --bin yizhan
    bin=${CARGO_TARGET_DIR:-$PWD/target}/release/yizhan
fi

dir=$(mktemp -d)
serve=""
trap '[ -n "$serve" ] && kill "$serve" 2>/dev/null; rm -rf "$dir"' EXIT
data="$dir/city"
"$bin" --data "$data" init --network 太原市政务服务网 --code 140100 --name 太原市政务服务中心 >/dev/null
# A case taken in and accepted: what an applicant typically looks up the day after.
number=$("$bin" --data "$data" --json case new --item CT-001 --applicant 王秀英 \
    --id-number 11010519491231002X --phone 13800138000 |
    sed -n 's/.*"number":"\([^"]*\)".*/\1/p')
"$bin" --data "$data" case accept "$number" >/dev/null
"$bin" --data "$data" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 >"$dir/serve.log" 2>&1 &
serve=$!
http=""
for _ in $(seq 100); do
    http=$(sed -n 's/.*"http":"\([^"]*\)".*/\1/p' "$dir/serve.log" | head -n1)
    [ -n "$http" ] && break
    sleep 0.1
done
if [ -z "$http" ]; then
    echo "error: serve did not start; see below" >&2
    cat "$dir/serve.log" >&2
    exit 1
fi
out=docs/screenshots/progress-phone.png
"$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size=390,844 --screenshot="$out" \
    "http://$http/query?number=$number&check=8000" 2>/dev/null
echo "$out"
