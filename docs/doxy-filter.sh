#!/bin/sh
# docs/doxy-filter.sh FILE — feed a public header to Doxygen with its plain
# comments made documentation comments: the banner on line 1 documents the
# file, a comment that opens a line documents what follows (/* -> /**), a
# comment after a member or an enumerator documents that member
# (/* -> /**<).  Section rulers (/* ---- ... */) and comments that already
# are documentation comments are left alone.  Used by docs/Doxyfile.
exec sed -e '1s,^/\*,/** @file\n,' \
         -e '2,${/^[[:space:]]*\/\* --/!s,^\([[:space:]]*\)/\*\([^*]\),\1/**\2,}' \
         -e 's,\([;,]\)\([[:space:]]*\)/\*\([^*]\),\1\2/**<\3,' "$1"
