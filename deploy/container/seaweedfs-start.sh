#!/bin/sh
# SeaweedFS as Lector's S3 store: `weed mini` keeping its data in /data, with one S3 identity
# (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the variables Lector reads too) that may read,
# write and list but not create buckets, and the bucket S3_BUCKET made at start.
set -eu
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID is empty}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY is empty}"
: "${S3_BUCKET:?S3_BUCKET is empty}"
umask 077
config=$(mktemp)
printf '{"identities": [{"name": "lector", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], "actions": ["Read", "Write", "List", "Tagging"]}]}\n' \
    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$config"
# Only S3 (8333) is reached from outside; master, volume and filer talk over loopback.
exec weed -logtostderr mini -dir=/data -ip=127.0.0.1 -ip.bind=0.0.0.0 -s3.config="$config" \
    -bucket="$S3_BUCKET" -s3.autoCreateBucket=false -master.telemetry=false -admin.ui=false \
    -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 "$@"
