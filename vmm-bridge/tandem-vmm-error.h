/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vmm-bridge's error domain (the QMP client has its own, TANDEM_QMP_ERROR). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TANDEM_VMM_ERROR (tandem_vmm_error_quark())
GQuark tandem_vmm_error_quark(void);

typedef enum {
  TANDEM_VMM_ERROR_CONFIG,          /* the VM's configuration is invalid */
  TANDEM_VMM_ERROR_NOT_FOUND,       /* no such VM */
  TANDEM_VMM_ERROR_EXISTS,          /* a VM of that name exists */
  TANDEM_VMM_ERROR_ALREADY_RUNNING,
  TANDEM_VMM_ERROR_NOT_RUNNING,
  TANDEM_VMM_ERROR_BUSY,            /* starting or stopping already */
  TANDEM_VMM_ERROR_SPAWN,           /* QEMU could not be started */
  TANDEM_VMM_ERROR_TIMEOUT,
  TANDEM_VMM_ERROR_CRASHED,         /* QEMU exited unexpectedly */
  TANDEM_VMM_ERROR_ACCEL,           /* the accelerator asked for is unusable */
  TANDEM_VMM_ERROR_RUNTIME_DIR,
} TandemVmmError;

G_END_DECLS
