#!/bin/sh
# Rebuild genesis.txt, the Book of Genesis in the King James Version, from Debian's bible-kjv
# packages (run once, by hand; the package never downloads anything). Needs apt-get and dpkg.
#
#     sh scripts/data/extract_genesis.sh companion/data/files/genesis.txt
#
# The `bible` program prints the text wrapped at 80 columns, one verse per paragraph with its
# number; the blank first line it prints is removed.
set -eu
out=$(realpath "${1:-genesis.txt}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download bible-kjv bible-kjv-text
mkdir root
for deb in ./*.deb; do dpkg -x "$deb" root; done
LD_LIBRARY_PATH=root/usr/lib root/usr/bin/bible -p root/usr/lib "Gen1:1-Gen50:26" | sed '1{/^$/d}' > "$out"
wc -c "$out"
