#!/bin/sh
# render-acl.sh TEMPLATE SECRETS_DIR OUT
# Writes the Redis ACL file OUT from TEMPLATE (deploy/redis/users.acl): every
# {{sha256:NAME}} becomes the SHA-256 of the password in SECRETS_DIR/NAME (one trailing
# newline is not part of it, as Fulcrum reads its password files), comment and blank lines
# go. OUT is readable by its owner only. POSIX sh + sha256sum: runs in redis:7-alpine.
set -eu
if [ "$#" -ne 3 ]; then
  echo "usage: render-acl.sh TEMPLATE SECRETS_DIR OUT" >&2
  exit 2
fi
tmpl=$1
dir=$2
out=$3
umask 077
grep -v -e '^#' -e '^[[:space:]]*$' "$tmpl" > "$out.tmp"
for name in $(grep -o '{{sha256:[A-Za-z0-9_.-]*}}' "$out.tmp" | sed 's/^{{sha256:\(.*\)}}$/\1/' | sort -u); do
  f="$dir/$name"
  if [ ! -s "$f" ]; then
    echo "render-acl: the password file $f is missing or empty" >&2
    rm -f "$out.tmp"
    exit 1
  fi
  hash=$(printf '%s' "$(cat "$f")" | sha256sum | cut -d' ' -f1)
  sed -i "s/{{sha256:$name}}/$hash/g" "$out.tmp"
done
mv "$out.tmp" "$out"
