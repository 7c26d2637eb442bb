#!/usr/bin/env bash
# A local stand-in for AWS's Lambda base image public.ecr.aws/lambda/python:3.13-<arch>, for
# `sam local invoke --skip-pull-image` on a machine that cannot pull from public.ecr.aws.
# A workstation that can pull does not need this: `docker pull public.ecr.aws/lambda/python:3.13-x86_64`.
#
#   tools/lambda-base-image.sh [x86_64|arm64] [PIP]
#
# Debian trixie's python3.13 (mmdebstrap, no emulation: only packages are unpacked), AWS's runtime
# interface client (awslambdaric) and boto3 from PyPI under /var/runtime as in the real image, and a
# bootstrap that runs the handler with them. SAM adds its own runtime interface emulator on top
# (the ...-rapid-<arch> image it builds from this one). Needs root, Docker, mmdebstrap and pip.
set -euo pipefail

arch="${1:-x86_64}"
pip="${2:-pip3}"
case "$arch" in
  x86_64) debian_arch=amd64 ;;
  arm64) debian_arch=arm64 ;;
  *) echo "error: architecture is x86_64 or arm64, not $arch" >&2; exit 2 ;;
esac
image="public.ecr.aws/lambda/python:3.13-$arch"
# The versions the Lambda python3.13 runtime ships are close to these; the functions only need boto3.
awslambdaric="awslambdaric==4.2.2"
boto3="boto3==1.43.108"

for tool in docker mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "error: $0 needs $tool (apt-get install docker.io mmdebstrap)" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"

# --variant=extract unpacks without running maintainer scripts, so a foreign architecture needs no qemu.
mmdebstrap --quiet --variant=extract --architectures="$debian_arch" \
  --include=python3.13,dash,coreutils,libstdc++6 trixie "$work/rootfs.tar"
tar -C "$root" -xf "$work/rootfs.tar"
for link in bin lib sbin; do [ -e "$root/$link" ] || ln -s "usr/$link" "$root/$link"; done
[ "$debian_arch" = amd64 ] && { [ -e "$root/lib64" ] || ln -s usr/lib64 "$root/lib64"; }
mkdir -p "$root/tmp" "$root/var/task" "$root/opt" "$root/var/runtime" && chmod 1777 "$root/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin' >> "$root/etc/passwd"

"$pip" install --quiet --disable-pip-version-check --no-compile --target "$root/var/runtime" \
  --platform "manylinux2014_$arch" --python-version 3.13 --only-binary=:all: "$awslambdaric" "$boto3"

cat > "$root/var/runtime/bootstrap" <<'BOOTSTRAP'
#!/bin/sh
exec /usr/bin/python3.13 -m awslambdaric "$_HANDLER"
BOOTSTRAP
chmod 755 "$root/var/runtime/bootstrap"

# Containers are started afresh for every invoke: compiled once here, not at every start
# (by a python3.13, whose bytecode the image's interpreter reads; without one, at every start).
if command -v python3.13 >/dev/null; then
  python3.13 -m compileall -q -j 0 -s "$root" -p / "$root/usr/lib/python3.13" "$root/var/runtime" >/dev/null || true
fi

tar -C "$root" -c . | docker import \
  -c 'ENV LANG=C.UTF-8 TZ=:/etc/localtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
  -c 'ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime' \
  -c 'ENV PYTHONPATH=/var/task:/opt/python:/var/runtime' \
  -c 'WORKDIR /var/task' \
  -c 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
  - "$image" >/dev/null
echo "built $image (a local stand-in for AWS's image)"
