# Shared by the CLI tests (cli_top.sh, cli_export.sh; sourced after BIN is set): a private
# working directory, a comparing check that prints expected vs actual, and sp to run the CLI.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" # labels shorten paths under the cwd: keep the fixtures' /app paths outside it

pass=0
fail=0
check() { # check DESCRIPTION ACTUAL EXPECTED
    if [ "$2" == "$3" ]; then
        pass=$((pass + 1))
        echo "ok - $1"
    else
        fail=$((fail + 1))
        echo "not ok - $1"
        echo "#   expected: $3"
        echo "#   actual:   $2"
    fi
}

# sp COMMAND...: runs sentryprof; sets rc, out (stdout), err (stderr)
sp() {
    set +e
    "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
