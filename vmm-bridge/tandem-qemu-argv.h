/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The QEMU command line for a VM: a pure function of its configuration and
 * where its runtime files go. Nothing is started or checked here. */
#pragma once

#include <glib.h>

#include "tandem-vm-config.h"

G_BEGIN_DECLS

/* Files in a VM's runtime directory, $XDG_RUNTIME_DIR/tandem/NAME/. */
#define TANDEM_RUNTIME_QMP "qmp.sock"
#define TANDEM_RUNTIME_AGENT "agent.sock"
#define TANDEM_RUNTIME_SPICE "spice.sock"
#define TANDEM_RUNTIME_CONSOLE "console.sock"
#define TANDEM_RUNTIME_CONSOLE_LOG "console.log"
#define TANDEM_RUNTIME_QEMU_LOG "qemu.log"
#define TANDEM_RUNTIME_LOCK "lock"
#define TANDEM_RUNTIME_PIXELS "pixels"  /* the shared pixel memory */

/* The virtio-serial port the agent opens in the guest. */
#define TANDEM_AGENT_PORT_NAME "org.tandem.agent.0"
/* Empty PCIe root ports for hot-plug are named TANDEM_HOTPLUG_PORT_PREFIX N. */
#define TANDEM_HOTPLUG_PORT_PREFIX "tandem-hp"

/* QEMU's seccomp filter, with every optional set denied. Tandem needs none
 * of them: it runs QEMU as the user (no -runas: no set*id), drives it over
 * QMP only and migrates to fd: (never exec:, so no fork or execve), and
 * pins no thread (no sched_setaffinity). What it does use stays allowed:
 * the filter is a deny-list, and userfaultfd (background snapshots), the
 * sockets of QMP, SPICE and the chardevs, and threads are not on it. */
#define TANDEM_QEMU_SANDBOX                                                   \
  "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

typedef struct {
  const char *qemu_binary;  /* e.g. "qemu-system-x86_64" */
  const char *runtime_dir;
  TandemAccel accel;        /* resolved: KVM or TCG, never AUTO */
  gboolean start_paused;    /* -S: the supervisor connects before "cont" */
  gboolean incoming;        /* -incoming defer: a saved state comes in */
  gboolean sandbox;         /* -sandbox TANDEM_QEMU_SANDBOX: only when this
                             * QEMU has seccomp (tandem-sandbox-probe.h) */
  /* config->pixel_memory is shared with the host through
   * TANDEM_RUNTIME_PIXELS, which the caller made (else, and when
   * incoming, the ivshmem device has private memory). */
  gboolean pixel_region;
} TandemQemuLaunch;

/* The argument vector (NULL-terminated, argv[0] the binary). */
GStrv tandem_qemu_argv_build(const TandemVmConfig *config,
                             const TandemQemuLaunch *launch);

/* QEMU's option syntax doubles commas inside values. */
char *tandem_qemu_opt_escape(const char *value);

G_END_DECLS
