#!/usr/bin/env bash
# The frontend's view of the Go services: the bindings and models Wails generates from app/
# (frontend/wailsjs) and the event payload types generated from app.EventPayloads
# (frontend/src/lib/events.gen.ts). Without arguments, writes them; with --check, generates
# them again and fails when the committed ones differ (a Go change the frontend did not follow),
# leaving the tree as it was. svelte-check then checks the frontend against them.
set -euo pipefail
cd "$(dirname "$0")/.."
TAGS=${TAGS:-webkit2_41}

generate() {
	wails generate module -tags "$TAGS" -nocolour >/dev/null
	chmod 644 frontend/wailsjs/runtime/* # as wails build writes them; generate makes them 0755
	go test -tags "$TAGS" -count=1 -run '^TestEventTypesGenerated$' ./app -update >/dev/null
}

if [ "${1:-}" != --check ]; then
	generate
	exit
fi

kept=$(mktemp -d)
trap 'rm -rf "$kept"' EXIT
cp -a frontend/wailsjs "$kept/wailsjs"
cp -a frontend/src/lib/events.gen.ts "$kept/events.gen.ts"
restore() {
	rm -rf frontend/wailsjs
	cp -a "$kept/wailsjs" frontend/wailsjs
	cp -a "$kept/events.gen.ts" frontend/src/lib/events.gen.ts
}
generate || { restore; exit 1; }
status=0
diff -ru "$kept/wailsjs" frontend/wailsjs || status=1
diff -u "$kept/events.gen.ts" frontend/src/lib/events.gen.ts || status=1
restore
if [ $status -ne 0 ]; then
	echo "bindings: the frontend's bindings differ from the Go services (above): run \`make bindings\`, commit them and follow the change in the frontend" >&2
fi
exit $status
