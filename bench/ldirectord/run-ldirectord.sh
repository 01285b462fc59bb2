#!/bin/sh
# Run Debian's ldirectord (unmodified) with a stand-in ipvsadm.
# ldirectord calls /sbin/ipvsadm or /usr/sbin/ipvsadm by absolute path (/sbin is
# a symlink to /usr/sbin on Debian), so the stand-in is bind-mounted over
# /usr/sbin/ipvsadm inside a private mount namespace that only this ldirectord
# and its children live in. Nothing outside that namespace sees the stand-in.
# usage: run-ldirectord.sh STANDIN_BINARY CONFIG_FILE   (as root; needs unshare(1))
# The stand-in keeps its table and call log in $IPVSADM_STANDIN_DIR.
set -eu
exec unshare --mount --propagation private sh -c '
  mount --bind "$1" /usr/sbin/ipvsadm
  exec /usr/sbin/ldirectord "$2" start' sh "$1" "$2"
