#!/usr/bin/env bash
# refresh.sh re-downloads the browser libraries vendored in files/ with
# `npm pack`, verifies each tarball against the registry's sha512 integrity
# (and against MANIFEST.json when the version is unchanged), copies the files
# the console uses and rewrites MANIFEST.json.
#
#   ./refresh.sh            the versions pinned in MANIFEST.json
#   ./refresh.sh --latest   the latest stable version of each package
#
# Needs npm, node, tar and sha512sum. Run it from anywhere; commit the result.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

latest=0
case "${1:-}" in
"") ;;
--latest) latest=1 ;;
*) echo "usage: $0 [--latest]" >&2; exit 2 ;;
esac

# package  dir  default-version  SPDX licence  files (from the package root)
# A file's vendored path is <dir>/<its path without a leading dist/>.
PACKAGES=(
  "uplot uplot 1.6.32 MIT dist/uPlot.iife.min.js dist/uPlot.min.css"
  "leaflet leaflet 1.9.4 BSD-2-Clause dist/leaflet.js dist/leaflet.css dist/images/layers.png dist/images/layers-2x.png dist/images/marker-icon.png dist/images/marker-icon-2x.png dist/images/marker-shadow.png"
  "topojson-client topojson-client 3.1.0 ISC dist/topojson-client.min.js"
  "world-atlas world-atlas 2.0.2 ISC countries-110m.json land-50m.json"
)

pinned() { # the version MANIFEST.json records for package $1, or nothing
  [ -f MANIFEST.json ] || return 0
  node -e 'const m=require(process.argv[1]);const f=m.files.find(f=>f.package===process.argv[2]);if(f)console.log(f.version)' "$here/MANIFEST.json" "$1"
}
recorded_integrity() { # the integrity MANIFEST.json records for $1@$2, or nothing
  [ -f MANIFEST.json ] || return 0
  node -e 'const m=require(process.argv[1]);const f=m.files.find(f=>f.package===process.argv[2]&&f.version===process.argv[3]);if(f)console.log(f.integrity)' "$here/MANIFEST.json" "$1" "$2"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/files"
mkdir -p "$stage"
rows="$tmp/rows.tsv"
: >"$rows"

for spec in "${PACKAGES[@]}"; do
  read -r pkg dir version licence srcs <<<"$spec"
  if [ "$latest" = 1 ]; then
    version=$(npm view "$pkg" version)
  else
    v=$(pinned "$pkg"); version=${v:-$version}
  fi
  want=$(npm view "$pkg@$version" dist.integrity)
  case "$want" in sha512-*) ;; *) echo "$pkg@$version: registry gives no sha512 integrity ($want)" >&2; exit 1 ;; esac
  rec=$(recorded_integrity "$pkg" "$version")
  if [ -n "$rec" ] && [ "$rec" != "$want" ]; then
    echo "$pkg@$version: registry integrity $want differs from MANIFEST.json's $rec" >&2; exit 1
  fi
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
  tgz="$tmp/$pkg-$version.tgz"
  got="sha512-$(sha512sum "$tgz" | cut -d' ' -f1 | xxd -r -p | base64 -w0)"
  if [ "$got" != "$want" ]; then
    echo "$pkg@$version: tarball sha512 $got, registry says $want" >&2; exit 1
  fi
  x="$tmp/x-$pkg"; mkdir -p "$x"; tar xzf "$tgz" -C "$x"
  spdx=$(node -e 'console.log(require(process.argv[1]).license)' "$x/package/package.json")
  if [ "$spdx" != "$licence" ]; then
    echo "$pkg@$version: package.json says licence $spdx, expected $licence; check it and update this script" >&2; exit 1
  fi
  [ -f "$x/package/LICENSE" ] || { echo "$pkg@$version: no LICENSE file" >&2; exit 1; }
  mkdir -p "$stage/$dir"
  cp "$x/package/LICENSE" "$stage/$dir/LICENSE"
  for src in $srcs; do
    dst="$dir/${src#dist/}"
    mkdir -p "$stage/$(dirname "$dst")"
    cp "$x/package/$src" "$stage/$dst"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$dst" "$pkg" "$version" "$want" "$licence" "$src" >>"$rows"
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$dir/LICENSE" "$pkg" "$version" "$want" "$licence" "LICENSE" >>"$rows"
  echo "$pkg@$version ok" >&2
done

# Natural Earth's data (in world-atlas) is in the public domain; say so next to it.
cat >"$stage/world-atlas/NATURAL_EARTH.txt" <<'TXT'
The country and land outlines in countries-110m.json and land-50m.json are
derived by the world-atlas package from Natural Earth's vector data
(https://www.naturalearthdata.com/). Natural Earth's maps are in the public
domain: they may be used in any manner without permission or attribution.
world-atlas's own files are under the ISC licence in LICENSE next to this file.
TXT

rm -rf "$here/files"
mv "$stage" "$here/files"

node - "$rows" "$here" <<'JS'
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [rows, here] = process.argv.slice(2);
const files = fs.readFileSync(rows, "utf8").trim().split("\n").map((l) => {
  const [p, pkg, version, integrity, license, source] = l.split("\t");
  const body = fs.readFileSync(path.join(here, "files", p));
  const e = {
    path: p, package: pkg, version, integrity, source,
    sha256: crypto.createHash("sha256").update(body).digest("hex"),
    bytes: body.length, license, license_file: p.split("/")[0] + "/LICENSE",
  };
  if (pkg === "world-atlas" && p.endsWith(".json")) {
    e.data_license = "public domain (Natural Earth)";
    e.data_license_file = "world-atlas/NATURAL_EARTH.txt";
  }
  return e;
});
files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
fs.writeFileSync(path.join(here, "MANIFEST.json"), JSON.stringify({ files }, null, 2) + "\n");
JS
echo "wrote $here/MANIFEST.json" >&2
