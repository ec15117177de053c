#!/usr/bin/env bash
# Renders an HTML report (default demo-output/report.html) in headless Chromium, offline, and
# checks that Chromium loaded and decoded every <img> of it; writes a screenshot.
#
#   tools/check_report.sh [REPORT.html] [SCREENSHOT.png] [WIDTHxHEIGHT]
#
# SCALE=0.5 shrinks the page in the screenshot (Chromium's device scale factor); the image is
# WIDTH·SCALE × HEIGHT·SCALE pixels. docs/demo.png is `SCALE=0.75 ... 1280x5400`.
#
# The image check opens a small page beside the report that loads it in an iframe and lists
# every <img> whose file is missing or not decodable (complete && naturalWidth > 0); Chromium
# prints the resulting DOM (--dump-dom). Exit status: 0 when every image loaded, 1 otherwise,
# 2 when Chromium is missing. `cargo test -p xai-cli --test report_chromium` runs this on a
# fresh demo and also checks that the screenshot is not blank.
set -euo pipefail

report=${1:-demo-output/report.html}
shot=${2:-${report%.html}.png}
size=${3:-1280,2400}
size=${size/x/,}
chromium=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
    echo "check_report: $chromium not found (apt-get install chromium)" >&2
    exit 2
fi
[ -f "$report" ] || { echo "check_report: $report not found" >&2; exit 1; }

dir=$(cd "$(dirname "$report")" && pwd)
name=$(basename "$report")
profile=$(mktemp -d)
check="$dir/.check_report_$$.html"
trap 'rm -rf "$profile" "$check"' EXIT

# No network, no first-run UI, a throwaway profile.
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars
    --disable-background-networking --disable-component-update --disable-sync
    --disable-default-apps --disable-extensions --no-first-run --no-default-browser-check
    --mute-audio --user-data-dir="$profile")

"$chromium" "${flags[@]}" --window-size="$size" --force-device-scale-factor="${SCALE:-1}" \
    --screenshot="$shot" "file://$dir/$name" \
    >/dev/null 2>&1
[ -s "$shot" ] || { echo "check_report: no screenshot written" >&2; exit 1; }

cat >"$check" <<EOF
<!doctype html><html><body><pre id="out">PENDING</pre>
<iframe id="f" src="$name" style="width:1280px;height:800px"></iframe>
<script>
document.getElementById('f').onload = function () {
  var imgs = Array.from(this.contentDocument.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.getAttribute('src'); });
  document.getElementById('out').textContent =
    'IMAGES ' + imgs.length + ' BAD ' + bad.length + (bad.length ? ': ' + bad.join(' ') : '');
};
</script></body></html>
EOF
dom=$("$chromium" "${flags[@]}" --allow-file-access-from-files --virtual-time-budget=10000 \
    --dump-dom "file://$check" 2>/dev/null)
result=$(printf '%s' "$dom" | grep -o 'IMAGES [0-9]* BAD [0-9]*[^<]*' || true)
if [ -z "$result" ]; then
    echo "check_report: the image check did not run" >&2
    exit 1
fi
echo "check_report: $report: $result; screenshot $shot"
case "$result" in
    *" BAD 0") exit 0 ;;
    *) exit 1 ;;
esac
