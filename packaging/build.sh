#!/usr/bin/env bash
# Builds the meowgate .deb packages:
#   packaging/build.sh VERSION   ->  dist/meowgate_VERSION_{amd64,arm64,armhf}.deb
# VERSION is a Debian version without a leading "v" (one is stripped).
# Environment: ARCHES (default "amd64 arm64 armhf") picks architectures,
# DIST (default dist) the output directory.
#
# Needs only Go: nfpm is built from the Go module proxy with go run, no
# binary is downloaded. It is pinned to v2.45.0 because later releases
# import modules that the Go module proxy does not serve.
set -euo pipefail

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0

version=${1:?usage: packaging/build.sh VERSION}
version=${version#v}
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "build.sh: $version is not a Debian version (e.g. 0.1.0)" >&2; exit 2; }
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
dist=${DIST:-dist}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)

for arch in ${ARCHES:-amd64 arm64 armhf}; do
	case $arch in
	amd64) goarch=amd64 goarm= ;;
	arm64) goarch=arm64 goarm= ;;
	armhf) goarch=arm goarm=6 ;; # ARMv6 + VFP: runs on every Raspberry Pi
	*) echo "build.sh: unknown architecture $arch" >&2; exit 2 ;;
	esac
	bin="$dist/build/$arch/meowgate"
	echo "== meowgate $version linux/$arch"
	mkdir -p "$(dirname "$bin")"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$bin" .
	deb="$dist/meowgate_${version}_${arch}.deb"
	rm -f "$deb"
	ARCH=$arch VERSION=$version BINARY=$bin \
		go run "$NFPM" package --config packaging/nfpm.yaml --packager deb --target "$deb" >/dev/null
	echo "   $deb ($(du -k "$deb" | cut -f1) KiB)"
done
