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

/* The virtio-serial port the agent opens in the guest. */
#define TANDEM_AGENT_PORT_NAME "org.tandem.agent.0"
/* Empty PCIe root ports for hot-plug are named TANDEM_HOTPLUG_PORT_PREFIX N. */
#define TANDEM_HOTPLUG_PORT_PREFIX "tandem-hp"

typedef struct {
  const char *qemu_binary;  /* e.g. "qemu-system-x86_64" */
  const char *runtime_dir;
  TandemAccel accel;        /* resolved: KVM or TCG, never AUTO */
  gboolean start_paused;    /* -S: the supervisor connects before "cont" */
  gboolean incoming;        /* -incoming defer: a saved state comes in */
} TandemQemuLaunch;

/* The argument vector (NULL-terminated, argv[0] the binary). */
GStrv tandem_qemu_argv_build(const TandemVmConfig *config,
                             const TandemQemuLaunch *launch);

/* QEMU's option syntax doubles commas inside values. */
char *tandem_qemu_opt_escape(const char *value);

G_END_DECLS
