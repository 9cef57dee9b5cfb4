#!/bin/sh
# Runs a trainable's command ("$@" after the worker's pid) inside this process's group, which the
# worker made for it (spawn detached), and kills the whole group when that worker is gone, even
# after kill -9: no trainable outlives its worker. The worker's SIGTERM to the group is for the
# command; this shell ignores it, waits, and exits as the command did. POSIX sh: it starts in a
# millisecond, where a Node supervisor would add tens to every trial.
worker=$1
shift
# A background command's stdin would be /dev/null: hand it the worker's answers through fd 3.
exec 3<&0
"$@" <&3 3<&- &
child=$!
trap '' TERM INT
( while kill -0 "$worker" 2>/dev/null; do sleep 0.5; done; kill -KILL 0 ) </dev/null >/dev/null 2>&1 3<&- &
watcher=$!
wait "$child"
status=$?
# The watcher ignores TERM like this shell (it inherited the trap): only KILL ends it.
kill -KILL "$watcher" 2>/dev/null
if [ "$status" -gt 128 ]; then
  # Killed by a signal: end the same way, so the worker sees the signal.
  trap - TERM INT
  kill -s "$(kill -l "$status")" $$
fi
exit "$status"
