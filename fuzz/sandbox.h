/* A file-system guard for the fuzz targets (see sandbox.c and README.md).
 *
 * While fuzz_sandbox_enter() is in effect, the code under test may not write:
 * opening a file for writing or creating, and any call that creates, removes,
 * renames, links or changes files, aborts the process with a message (the
 * fuzzer then reports it as a crash: bundlefs' core must never write). Read-only
 * opens are narrowed to regular files and directories outside /proc, /sys and
 * similar kernel file systems: others fail with EACCES, as opening a device
 * node (a watchdog, a tape, a serial line) can have side effects by itself. */
#pragma once

void fuzz_sandbox_enter(void);
void fuzz_sandbox_leave(void);
