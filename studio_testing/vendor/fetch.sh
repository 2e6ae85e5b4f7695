#!/bin/sh
# How axe.min.js got here: axe-core 4.11.0 (MPL-2.0, LICENSE-axe-core), used by the browser tests
# only, injected into the page under test. Run by hand to update; tests never download anything.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
(cd "$work" && npm pack --silent axe-core@4.11.0 >/dev/null && tar xzf axe-core-4.11.0.tgz)
cp "$work/package/axe.min.js" axe.min.js
cp "$work/package/LICENSE" LICENSE-axe-core
rm -r "$work"
echo "e9e5863c33a874f09bc01acd9234b7e3c871479f5eef8802fa582544465e6d01  axe.min.js" | sha256sum -c -
