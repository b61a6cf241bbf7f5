#!/usr/bin/env bash
# Installs the station for the current user: the `yizhan` binary (cargo install), the menu entry
# and, with --autostart, the window at login; with --service, `yizhan serve` as a systemd user
# service (sync without the window). Run from the repository: packaging/install.sh [--autostart]
# [--service].
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cargo install --locked --path "$here/../gui"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
sed "s|^Exec=yizhan|Exec=$HOME/.cargo/bin/yizhan|" "$here/yizhan.desktop" > "$apps/yizhan.desktop"
for arg in "$@"; do
    case "$arg" in
        --autostart)
            auto="${XDG_CONFIG_HOME:-$HOME/.config}/autostart"
            mkdir -p "$auto"
            cp "$apps/yizhan.desktop" "$auto/yizhan.desktop"
            echo "the window opens at login: $auto/yizhan.desktop"
            ;;
        --service)
            units="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
            mkdir -p "$units"
            cp "$here/yizhan-sync.service" "$units/"
            systemctl --user daemon-reload
            systemctl --user enable --now yizhan-sync.service
            echo "sync runs as a user service: systemctl --user status yizhan-sync"
            ;;
        *) echo "unknown option $arg (use --autostart and/or --service)" >&2; exit 2 ;;
    esac
done
