/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bench-util.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_percentile(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return v[(int)(p * (n - 1) + 0.5)];
}

gboolean bench_parse_args(int argc, char **argv, gboolean *is_short,
                          const char **json_path) {
  *is_short = FALSE;
  *json_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (g_str_equal(argv[i], "--short")) {
      *is_short = TRUE;
    } else if (g_str_equal(argv[i], "--json") && i + 1 < argc) {
      *json_path = argv[++i];
    } else {
      g_printerr("usage: %s [--short] [--json FILE]\n", argv[0]);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean bench_socket_ready(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  return ok;
}
