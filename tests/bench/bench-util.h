/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers the benchmarks share. */
#pragma once

#include <glib.h>

#include "test-wait.h"

/* Sorts @v and returns its @p quantile (0..1). */
double bench_percentile(double *v, int n, double p);
/* --short and --json FILE, the options every benchmark takes; FALSE (with
 * a usage message) on anything else. */
gboolean bench_parse_args(int argc, char **argv, gboolean *is_short,
                          const char **json_path);
/* TRUE if something listens on the UNIX socket @path. */
gboolean bench_socket_ready(const char *path);
