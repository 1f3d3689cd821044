#!/usr/bin/env bash
# Installs into a temporary prefix, then compiles, links and runs a program
# outside the tree with `pkg-config --cflags --libs clformer` only.
set -euo pipefail
build=$1 prefix=$2
rm -rf "$prefix"
meson install -C "$build" --destdir "$prefix" >/dev/null
root="$prefix/usr/local"
pc=$(dirname "$(find "$root" -name clformer.pc | head -n 1)")
[ -n "$pc" ] || { echo "clformer.pc was not installed"; exit 1; }
# The .pc file names /usr/local; point pkg-config at the staged copy.
export PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$prefix"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/consumer.c" <<'C'
#include <clformer/clformer.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    if (strcmp(clf_version(), CLF_VERSION_STRING) != 0) return 1;
    clf_context_params p = clf_context_params_default();
    p.cache_dir = "";
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    if (st == CLF_ERR_NO_DEVICE) { printf("no device: %s\n", clf_context_last_error(NULL)); return 0; }
    if (st != CLF_OK) { printf("%s: %s\n", clf_status_str(st), clf_context_last_error(NULL)); return 1; }
    double err = 1;
    st = clf_context_selftest(ctx, &err);
    printf("consumer: clformer %s on %s: selftest %s (max error %g)\n", clf_version(),
           clf_context_device(ctx)->name, clf_status_str(st), err);
    clf_context_free(ctx);
    return st == CLF_OK ? 0 : 1;
}
C
# The README's compile line for an uninstalled build tree (the source include/
# and the build's include/, where meson generates version.h), run as written
# from the checkout, with build/ standing for this build folder.
src=$(cd "$(dirname "$0")/.." && pwd)
line=$(grep -m 1 '^cc .*-I include -I build/include' "$src/README.md") || { echo "README.md has no in-tree compile line"; exit 1; }
line=${line//prog.c/$work/consumer.c}
line=${line//\$PWD\/build/$build}
line=${line// build\// $build/}
echo "README, uninstalled: $line"
(cd "$src" && eval "$line -Wall -Wextra -Werror -o $work/consumer-tree")
"$work/consumer-tree"
flags=$(pkg-config --cflags --libs clformer)
echo "pkg-config --cflags --libs clformer: $flags"
cc -std=c11 -Wall -Wextra -Werror "$work/consumer.c" $flags -o "$work/consumer"
libdir=$(dirname "$(find "$root" -name 'libclformer.so' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$work/consumer"
for h in clformer.h status.h log.h device.h context.h version.h; do
  [ -f "$root/include/clformer/$h" ] || { echo "header $h not installed"; exit 1; }
done
[ -f "$libdir/libclformer.a" ] || { echo "static library not installed"; exit 1; }
readelf -d "$libdir/libclformer.so" | grep -q 'SONAME.*libclformer.so.0' || { echo "no versioned soname"; exit 1; }
echo "installed headers, shared (soname libclformer.so.0) and static libraries: ok"
