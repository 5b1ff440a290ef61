#!/usr/bin/env bash
# Prints the ingest server's port once OUTDIR/port exists (server.js writes it atomically once
# listening); exits 1 after the timeout (default 10 s). Usage: wait-port.sh OUTDIR [timeout_s]
set -u
dir=${1:?usage: wait-port.sh OUTDIR [timeout_s]}
timeout=${2:-10}
deadline=$(( $(date +%s%N) / 1000000 + ${timeout%.*} * 1000 ))
while :; do
    if [ -s "$dir/port" ]; then
        port=$(head -n1 "$dir/port")
        case $port in
        '' | *[!0-9]*) ;;
        *) echo "$port"; exit 0 ;;
        esac
    fi
    if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
        echo "wait-port.sh: no port in $dir/port after ${timeout}s" >&2
        exit 1
    fi
    sleep 0.05
done
