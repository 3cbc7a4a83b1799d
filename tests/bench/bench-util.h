/* Helpers the benchmarks share. */
#pragma once

#include <glib.h>

/* Sorts @v and returns its @p quantile (0..1). */
double bench_percentile(double *v, int n, double p);
/* Iterates the main loop until *flag or @seconds pass. */
gboolean bench_wait_flag(const gboolean *flag, double seconds);
/* TRUE if something listens on the UNIX socket @path. */
gboolean bench_socket_ready(const char *path);
