#!/bin/sh
# The image's one entry point: `web`, `worker`, `clock` (or any closeloop command).
# With MIGRATE_ON_START=true the schema is brought up to date first (compose sets it on the web
# service only, so one process migrates; an up-to-date database is left as it is).
set -e
if [ "${MIGRATE_ON_START:-false}" = "true" ]; then
    closeloop migrate
fi
exec closeloop "$@"
