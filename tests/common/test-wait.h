/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Waiting in tests and benchmarks: sleep in the main loop until something
 * happens, with a deadline so that no wait is unbounded. */
#pragma once

#include <glib.h>

/* Iterates the default main context until *flag or @seconds pass; returns
 * *flag. */
gboolean tandem_test_wait(const gboolean *flag, double seconds);
