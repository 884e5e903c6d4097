#!/usr/bin/env bash
# The generated-client check (make check-client, run by CI): generates a Go
# client from api/openapi.yaml with oapi-codegen, as a user of the API
# would, and compiles it in a module of its own in a temporary directory,
# so that the contract stays one a generator takes (two components that
# map to one Go name, for one, make oapi-codegen refuse the whole spec).
# Nothing generated is kept. The versions are pinned in the Makefile
# (OAPI_CODEGEN, OAPI_CODEGEN_RUNTIME).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GO:=go}"
: "${OAPI_CODEGEN:=github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2}"
: "${OAPI_CODEGEN_RUNTIME:=github.com/oapi-codegen/runtime@v1.9.0}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$GO run "$OAPI_CODEGEN" -generate types,client -package microtask -o "$work/client.gen.go" api/openapi.yaml
cd "$work"
$GO mod init example.com/microtaskclient >/dev/null 2>&1
$GO get "$OAPI_CODEGEN_RUNTIME" >/dev/null 2>&1 || $GO get "$OAPI_CODEGEN_RUNTIME"
$GO mod tidy >/dev/null 2>&1 || $GO mod tidy
$GO build ./...
echo "check-client: the Go client oapi-codegen generates from api/openapi.yaml ($(wc -l <client.gen.go) lines) compiles"
