/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which accelerator a VM gets: KVM only when it is proven to work.
 *
 * /dev/kvm existing proves nothing (nested KVM can hang a guest before its
 * first instruction of Linux), so "auto" boots a kernel under KVM and waits,
 * bounded, for its first console line. The verdict is cached per host
 * kernel and QEMU binary. TANDEM_ACCEL=kvm|tcg, then the VM's own setting,
 * override the probe.
 */
#pragma once

#include <gio/gio.h>

#include "tandem-vm-config.h"

G_BEGIN_DECLS

typedef struct {
  TandemAccel accel;  /* KVM or TCG */
  char *reason;       /* for logs and the UI */
  gboolean from_cache;
} TandemAccelVerdict;

void tandem_accel_verdict_free(TandemAccelVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemAccelVerdict, tandem_accel_verdict_free)

#define TANDEM_ACCEL_PROBE_TIMEOUT_MS 5000

/* @probe_kernel: a bootable Linux kernel (the VM's own, typically); without
 * one "auto" means TCG. @kvm_device: normally "/dev/kvm". */
void tandem_accel_choose_async(TandemAccel configured, const char *qemu_binary,
                               const char *probe_kernel,
                               const char *kvm_device,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
TandemAccelVerdict *tandem_accel_choose_finish(GAsyncResult *result,
                                               GError **error);

/* The probe alone: boots @kernel under @accel and reports whether its first
 * console line appeared within @timeout_ms. */
void tandem_accel_probe_async(const char *qemu_binary, TandemAccel accel,
                              const char *kernel, guint timeout_ms,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
/* @qemu_said (may be NULL): the last line QEMU printed, if any. */
gboolean tandem_accel_probe_finish(GAsyncResult *result, char **qemu_said,
                                   GError **error);

/* $XDG_CACHE_HOME/tandem/accel-probe.ini */
char *tandem_accel_cache_path(void);

G_END_DECLS
