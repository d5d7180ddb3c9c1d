# cluster.sh — sourced by scripts and tests: start a throwaway PostgreSQL 15
# cluster in a temporary directory, listening only on a Unix socket there and
# on a free loopback port; it is stopped and removed when the shell exits.
#
#   source scripts/cluster.sh; vt_cluster_start [postgresql.conf lines...]
#   psql "$VT_CONNINFO" ...
#
# Sets VT_DIR, VT_PORT, VT_HOST (the socket directory) and VT_CONNINFO.

vt_free_port() {
    local port
    for port in $(seq 54320 54420); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

vt_cluster_stop() {
    if [ -n "${VT_DIR:-}" ] && [ -d "$VT_DIR/data" ]; then
        pg_ctl -D "$VT_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    [ -n "${VT_DIR:-}" ] && rm -rf "$VT_DIR"
}

vt_cluster_start() {
    local line
    export PATH="$(pg_config --bindir):$PATH"
    VT_DIR=$(mktemp -d /tmp/vatoken-cluster.XXXXXX)
    VT_PORT=$(vt_free_port)
    VT_HOST="$VT_DIR"
    trap vt_cluster_stop EXIT
    initdb -D "$VT_DIR/data" -A trust -U postgres --no-sync >"$VT_DIR/initdb.log" 2>&1 || {
        cat "$VT_DIR/initdb.log"; return 1; }
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $VT_PORT"
        echo "unix_socket_directories = '$VT_DIR'"
        echo "fsync = off"
        for line in "$@"; do echo "$line"; done
    } >>"$VT_DIR/data/postgresql.conf"
    pg_ctl -D "$VT_DIR/data" -l "$VT_DIR/server.log" -w start >/dev/null || {
        cat "$VT_DIR/server.log"; return 1; }
    VT_CONNINFO="host=$VT_HOST port=$VT_PORT user=postgres dbname=postgres"
    export VT_DIR VT_PORT VT_HOST VT_CONNINFO
}
