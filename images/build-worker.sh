#!/usr/bin/env bash
# Build backend-kit/worker without registry or in-container PyPI access: wheels of the kit and its
# dependencies are made on the host (whose pip reaches PyPI), copied in, and installed with
# --no-index on the local Python image (images/build-local.sh builds it). With a registry and
# internet, `docker compose --profile cluster build` does the same from python:3.11-slim.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf .wheels
trap 'rm -rf .wheels' EXIT
python -m pip wheel --quiet --no-deps --wheel-dir .wheels .
# The dependencies as the image's Python resolves them (its version decides markers such as redis's
# async-timeout for Python < 3.11.3): binary wheels for that interpreter and platform.
target=$(docker run --rm "${BACKEND_KIT_PYTHON_IMAGE:-backend-kit/python:3.11}" python3 -c \
    'import platform; print(platform.python_version())')
python -m pip download --quiet --only-binary=:all: --python-version "$target" --implementation cp \
    --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform linux_x86_64 --platform any \
    --dest .wheels .wheels/backend_kit-*.whl
# pip evaluates python_full_version markers against its own interpreter, not --python-version: what
# an older 3.11 needs besides (redis wants async-timeout below 3.11.3) is fetched by name.
python -m pip download --quiet --only-binary=:all: --python-version "$target" --implementation cp \
    --platform any --dest .wheels "async-timeout>=4.0.3"
docker build --quiet -f images/worker/Dockerfile \
    --build-arg PYTHON_IMAGE="${BACKEND_KIT_PYTHON_IMAGE:-backend-kit/python:3.11}" \
    --build-arg PIP_FLAGS="--no-index --find-links /kit/.wheels" --build-arg KIT=backend-kit \
    -t backend-kit/worker:latest .
echo "built backend-kit/worker:latest"
