# make deb                 dist/meowgate_<version>_{amd64,arm64,armhf}.deb
# make deb VERSION=0.1.0   a given version (default: the latest git tag,
#                          else 0.0.0~git<commit>; build.sh strips a "v")
VERSION ?= $(shell git describe --tags --abbrev=0 2>/dev/null || echo "0.0.0~git$$(git rev-parse --short HEAD)")

.PHONY: deb
deb:
	packaging/build.sh $(VERSION)
