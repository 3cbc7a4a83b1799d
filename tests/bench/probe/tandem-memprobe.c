/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-memprobe: a guest workload for the snapshot tests and benchmark.
 *
 *   tandem-memprobe [--mib N] [--hot MIB] [--beat MS] [--files DIR]
 *                   [--check]
 *
 * Writes memory without pause: a region of N MiB (default 64), of which
 * the first HOT MiB (default all) are written over and over, one byte per
 * 4 KiB page, so every write lands on a different page (what makes a
 * background snapshot copy pages). Every MS ms (default 100) it prints a
 * heartbeat line on standard output:
 *
 *     TANDEM-PROBE beat=B writes=W mem=ok files=ok
 *
 * B counts beats, W the page writes so far; a beat is never held back by
 * the writing, so a gap between beats is a stall of the guest. With
 * --check, each beat first finishes a sweep of the hot set with the beat's
 * value and checks that every hot page holds it (mem=bad if not: the
 * memory is not what this program wrote).
 * With --files it also creates DIR/beat-B (written and fsynced) and checks
 * that DIR holds exactly beat-1 .. beat-B (files=bad if not): after a
 * restore, the disk must be of the same instant as the memory.
 *
 * The host timestamps the lines as they arrive (the guest's clock stops
 * while the VM is stopped, so a guest-side timer hides freezes). Plain C,
 * libc only: it runs inside the guest. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void usage(void) {
  fprintf(stderr, "usage: tandem-memprobe [--mib N] [--hot MIB] [--beat MS] "
                  "[--files DIR]\n");
  exit(2);
}

/* Whether DIR holds exactly beat-1 .. beat-@beat and nothing else named
 * beat-*. */
static int files_ok(const char *dir, unsigned long beat) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  unsigned long count = 0;
  int ok = 1;
  struct dirent *e;
  while ((e = readdir(d))) {
    unsigned long n;
    char extra;
    if (sscanf(e->d_name, "beat-%lu%c", &n, &extra) != 1)
      continue;
    if (n < 1 || n > beat)
      ok = 0;
    count++;
  }
  closedir(d);
  return ok && count == beat;
}

static int write_file(const char *dir, unsigned long beat) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/beat-%lu", dir, beat);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return 0;
  char text[32];
  int n = snprintf(text, sizeof(text), "%lu\n", beat);
  int ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
  close(fd);
  return ok;
}

int main(int argc, char **argv) {
  unsigned long mib = 64, hot = 0, beat_ms = 100;
  const char *files = NULL;
  int check = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--check")) {
      check = 1;
      continue;
    }
    if (i + 1 >= argc)
      usage();
    if (!strcmp(argv[i], "--mib"))
      mib = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--hot"))
      hot = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--beat"))
      beat_ms = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--files"))
      files = argv[++i];
    else
      usage();
  }
  if (!mib || mib > 65536 || hot > mib || !beat_ms || beat_ms > 60000)
    usage();
  if (!hot)
    hot = mib;
  size_t pages = (size_t)hot * (1u << 20) / PAGE;
  unsigned char *mem = calloc((size_t)mib << 20, 1);
  if (!mem) {
    fprintf(stderr, "tandem-memprobe: no memory for %lu MiB\n", mib);
    return 1;
  }
  if (files && mkdir(files, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "tandem-memprobe: cannot create %s\n", files);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  unsigned long beat = 0;
  unsigned long long writes = 0;
  size_t page = 0;
  unsigned char value = 1;
  uint64_t next = now_ms() + beat_ms;
  for (;;) {
    /* Write, a page at a time, until the beat is due. */
    for (int k = 0; k < 4096; k++) {
      mem[page * PAGE] = value;
      writes++;
      if (++page == pages)
        page = 0;
    }
    if (now_ms() < next)
      continue;
    /* The beat: with --check, finish the sweep and check it; tell. */
    int mem_ok = 1;
    if (check) {
      for (; page < pages; page++, writes++)
        mem[page * PAGE] = value;
      page = 0;
      for (size_t p = 0; p < pages; p++)
        mem_ok &= mem[p * PAGE] == value;
    }
    beat++;
    int files_good = 1;
    if (files)
      files_good = write_file(files, beat) && files_ok(files, beat);
    printf("TANDEM-PROBE beat=%lu writes=%llu mem=%s files=%s\n", beat,
           writes, mem_ok ? "ok" : "bad", files_good ? "ok" : "bad");
    if (check)
      value = (unsigned char)(value % 255 + 1);
    next = now_ms() + beat_ms;
  }
}
