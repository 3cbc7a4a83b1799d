/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whether a QEMU binary can run under Tandem's seccomp sandbox
 * (TANDEM_QEMU_SANDBOX, tandem-qemu-argv.h).
 *
 * A QEMU built without libseccomp refuses -sandbox and does not start, and
 * one whose kernel lacks seccomp filters fails while installing it. So the
 * sandbox is only asked for once a probe has shown that this binary, with
 * exactly Tandem's options, starts and quits cleanly: QEMU with no machine
 * (-machine none) and its monitor on stdin, told to quit. It takes tens of
 * milliseconds; the verdict is kept for the life of the process per QEMU
 * binary (its path, size and modification time).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gboolean sandboxed; /* QEMU runs with -sandbox TANDEM_QEMU_SANDBOX */
  char *reason;       /* for logs: why not, with QEMU's own words */
  gboolean from_cache;
} TandemSandboxVerdict;

void tandem_sandbox_verdict_free(TandemSandboxVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemSandboxVerdict,
                              tandem_sandbox_verdict_free)

#define TANDEM_SANDBOX_PROBE_TIMEOUT_MS 10000

/* Never fails but for cancellation: a QEMU that cannot be run, or does not
 * answer within @timeout_ms, gets "not sandboxed" (and starting it for real
 * then says what is wrong). Only a probe that ran to the end is cached. */
void tandem_sandbox_probe_async(const char *qemu_binary, guint timeout_ms,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
TandemSandboxVerdict *tandem_sandbox_probe_finish(GAsyncResult *result,
                                                  GError **error);

/* Forgets every cached verdict (for tests). */
void tandem_sandbox_probe_forget(void);

G_END_DECLS
