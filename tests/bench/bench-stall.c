/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-stall SECONDS: how long the shell's main loop stalls, seen from
 * outside. Pings org.tandem.Tandem on the session bus (the shell answers
 * org.freedesktop.DBus.Peer.Ping from its main loop, as any call) every
 * 10 ms for SECONDS, one at a time, and prints
 * "stall PINGS P50_MS P99_MS MAX_MS". A ping's round trip is the bus's
 * few tens of microseconds plus however long the shell's loop was busy
 * when it arrived. Exits 1 when the shell does not answer at all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 2 || atof(argv[1]) <= 0) {
    fprintf(stderr, "usage: bench-stall SECONDS\n");
    return 2;
  }
  sd_bus *bus = NULL;
  int r = sd_bus_open_user(&bus);
  if (r < 0) {
    fprintf(stderr, "bench-stall: session bus: %s\n", strerror(-r));
    return 1;
  }
  double seconds = atof(argv[1]);
  size_t cap = (size_t)(seconds * 100) + 16, n = 0;
  double *rtt = calloc(cap, sizeof(double));
  if (!rtt)
    return 1;
  double end = now_ms() + seconds * 1000;
  while (now_ms() < end && n < cap) {
    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    double t0 = now_ms();
    r = sd_bus_call_method(bus, "org.tandem.Tandem", "/org/tandem/Tandem",
                           "org.freedesktop.DBus.Peer", "Ping", &err, &reply,
                           "");
    double t1 = now_ms();
    sd_bus_message_unref(reply);
    if (r < 0) {
      fprintf(stderr, "bench-stall: Ping: %s\n",
              err.message ? err.message : strerror(-r));
      sd_bus_error_free(&err);
      free(rtt);
      sd_bus_unref(bus);
      return 1;
    }
    rtt[n++] = t1 - t0;
    double wait = 10 - (now_ms() - t0);
    if (wait > 0)
      usleep((useconds_t)(wait * 1000));
  }
  qsort(rtt, n, sizeof(double), by_value);
  printf("stall %zu %.2f %.2f %.2f\n", n, rtt[n / 2],
         rtt[(size_t)((double)(n - 1) * 0.99)], rtt[n - 1]);
  free(rtt);
  sd_bus_flush_close_unref(bus);
  return 0;
}
