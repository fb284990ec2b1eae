#!/bin/sh
// 2>/dev/null; case "${MALLOC_MMAP_THRESHOLD_+set}$GLIBC_TUNABLES" in set*|*mmap_threshold*) ;; *) export MALLOC_MMAP_THRESHOLD_=131072 GRAYLANE_SET_MALLOC=1 ;; esac; exec node "$0" "$@"
//
// Run as a program (npx graylane, or from PATH), the line above is read by sh: it fixes glibc
// malloc's mmap threshold for the node process it execs into, unless the user set it. The sliding
// default lets the large blocks of V8's background threads stay resident in per-thread arenas: a
// daemon carried ~6 MB more (src/router/control/supervisor/heap-flags.ts, which gives the router's
// processes the same setting, has the measurement). To node both lines are comments, so
// `node bin/graylane.js` runs the same CLI, with malloc's default.

// Set for this process only: the apps it starts (one that inherits the environment) keep the default.
if (process.env.GRAYLANE_SET_MALLOC === '1') {
  delete process.env.MALLOC_MMAP_THRESHOLD_;
  delete process.env.GRAYLANE_SET_MALLOC;
}
// The CLI, bundled (scripts/bundle.mjs) in dist/bundle/, built by `npm install` through the prepare script.
const { main } = await import('../dist/bundle/main.js');

process.exitCode = await main(process.argv.slice(2));
