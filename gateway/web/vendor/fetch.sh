#!/bin/sh
# How htm-preact.js got here: htm's standalone build (htm + Preact in one ES module, 13 KB; htm is
# Apache-2.0, Preact MIT; both notices in LICENSE-htm and the file). Run by hand to update; the
# product never downloads anything.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
(cd "$work" && npm pack --silent htm@3.1.1 >/dev/null && tar xzf htm-3.1.1.tgz)
cp "$work/package/preact/standalone.module.js" htm-preact.js
cp "$work/package/LICENSE" LICENSE-htm
rm -r "$work"
echo "72284e8e9079c87817145df1110f74e8a2aa040b2fc384922e18dfcb46fc1fd7  htm-preact.js" | sha256sum -c -
