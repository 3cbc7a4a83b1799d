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

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean bench_wait_flag(const gboolean *flag, double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);
  while (!*flag && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return *flag;
}

gboolean bench_socket_ready(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  return ok;
}
