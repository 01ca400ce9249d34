#!/bin/bash
# Runs compose.yaml with the images of `make image` and checks it works: every service starts,
# /ready answers 200 (Redis takes writes with its password, the store writes, Tesseract runs),
# an admin-made key sends a receipt to the queue and a worker container reads its total. Then
# the services and their volumes are removed. Run by `make image-check`, as root, with
# podman-compose (from PyPI, run by uv); PODMAN_ARGS and PODMAN_RUN_ARGS as for build.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
uv=${UV:-$root/.tools/bin/uv}
port=${CHECK_PORT:-18000}
work=$(mktemp -d /tmp/lector-compose.XXXXXX)
compose=("$uv" tool run --quiet --from 'podman-compose>=1.6,<2' podman-compose
    --podman-args="${PODMAN_ARGS:-}" --podman-run-args="${PODMAN_RUN_ARGS:-}"
    --project-name lector-check --env-file "$work/compose.env" -f "$work/compose.yaml")

secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
cp "$root/deploy/container/compose.yaml" "$work/"
sed -e "s|^REDIS_PASSWORD=$|REDIS_PASSWORD=$(secret)|" \
    -e "s|^LECTOR_SECRET=$|LECTOR_SECRET=$(secret)|" \
    -e "s|^LECTOR_ADMIN_KEY=$|LECTOR_ADMIN_KEY=$(secret)|" \
    -e "s|^AWS_ACCESS_KEY_ID=$|AWS_ACCESS_KEY_ID=lector-check|" \
    -e "s|^AWS_SECRET_ACCESS_KEY=$|AWS_SECRET_ACCESS_KEY=$(secret)|" \
    -e "s|^LECTOR_PUBLISH_PORT=.*|LECTOR_PUBLISH_PORT=$port|" \
    "$root/deploy/container/compose.env.example" >"$work/compose.env"
admin=$(sed -n 's/^LECTOR_ADMIN_KEY=//p' "$work/compose.env")
base=http://127.0.0.1:$port

finish() {
    status=$?
    [ $status -eq 0 ] || "${compose[@]}" logs --tail 20 2>&1 | grep -v '^WARNING' || true
    "${compose[@]}" down -v >/dev/null 2>&1 || true
    rm -rf "$work"
    exit $status
}
trap finish EXIT

"${compose[@]}" up -d >/dev/null
for _ in $(seq 60); do
    curl -sf -m 15 "$base/ready" >/dev/null && break
    sleep 1
done
curl -sf -m 15 "$base/ready"
echo
key=$(curl -sf -H "X-API-Key: $admin" -H 'Content-Type: application/json' \
    -d '{"name": "compose-check", "quota": 10, "per_minute": 10}' "$base/admin/keys" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
id=$(curl -sf -H "X-API-Key: $key" -F image=@"$root/fixtures/receipt.png" -F document_type_code=receipt \
    "$base/api/convert-async" | python3 -c 'import json, sys; print(json.load(sys.stdin)["conversion_id"])')
for _ in $(seq 6); do
    answer=$(curl -sf -m 40 -H "X-API-Key: $key" "$base/api/convert-async/status/$id?wait=30")
    status=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["status"])' "$answer")
    [ "$status" = SUCCESS ] && break
done
python3 -c '
import json, sys
answer = json.loads(sys.argv[1])
assert answer["status"] == "SUCCESS" and answer["data"]["total"] is not None, answer
print("a worker container read the receipt: total", answer["data"]["total"])
' "$answer"
