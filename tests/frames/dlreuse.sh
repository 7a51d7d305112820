#!/usr/bin/env bash
# tests/frames/dlreuse.sh — recycle run on dlreuse: after dlclose and a
# dlopen of another module at the same address, the block allocated
# through the second module has main in its stack (a stale cached rule of
# the first module would end the stack inside the second one's frame).
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$("$RECYCLE" run -q -o "$work/d.rcy" -- "$DLREUSE" "$MOD_A" "$MOD_B") || {
    echo "FAIL: recycle run exited $?"
    exit 1
}
case $out in
reused*) ;;
*)
    echo "SKIP: the loader did not reuse the address ($out)"
    exit 77
    ;;
esac
tb=$("$RECYCLE" top --by traceback -l 50 "$work/d.rcy" | sed -n '/size=2222 B/,/^\(\S\|$\)/p')
printf '%s\n' "$tb"
if printf '%s\n' "$tb" | grep -q 'File ".*dlreuse_mod.c"' &&
    printf '%s\n' "$tb" | grep -q 'File ".*dlreuse.c"'; then
    echo "ok: the second module's block is walked through main"
else
    echo "FAIL: the second module's block lacks mod_alloc or main"
    exit 1
fi
