#!/usr/bin/env bash
# The recipe ships inside the runner package (runner/images/), so that an installed runner can build
# the images on first use; this path stays for CI and for people who run the build by hand.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../runner/images/build-local.sh" "$@"
