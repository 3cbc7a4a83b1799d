/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers for tests that boot the tiny test guest under real QEMU (TCG). */
#pragma once

#include "tandem-vm.h"
#include "test-wait.h"

/* The test guest's directory ($TANDEM_TEST_GUEST, else build/test-guest in
 * the source tree); fails the test with a hint if it was not built. */
const char *vm_test_guest_dir(void);

/* A config for the test guest: 256 MiB, TCG unless @accel says otherwise,
 * no display. */
TandemVmConfig *vm_test_config(const char *name, TandemAccel accel);


/* Starts @vm and waits (bounded) for the test guest's "ready" line. */
void vm_test_start_ready(TandemVm *vm);
/* The same for any guest: waits up to @seconds for a line with @marker. */
void vm_test_start_ready_marker(TandemVm *vm, const char *marker,
                                double seconds);

/* Runs an async VM operation to completion: the helpers below call
 * tandem_vm_*_finish for you and return its result and error. */
gboolean vm_test_stop(TandemVm *vm, gboolean force, GError **error);
gboolean vm_test_pause(TandemVm *vm, GError **error);
gboolean vm_test_resume(TandemVm *vm, GError **error);
gboolean vm_test_reset(TandemVm *vm, GError **error);

/* Waits until the guest prints a console line containing @text. */
gboolean vm_test_wait_console(TandemVm *vm, const char *text, double seconds);
