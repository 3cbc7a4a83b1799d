/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs the fuzz target over files given on the command line (or every file
 * in directories given), without libFuzzer: the seed corpus and any saved
 * crash inputs become regression tests in the ordinary and sanitizer
 * builds, and under valgrind. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0, n;
  do {
    if (len == cap) {
      cap = cap ? cap * 2 : 65536;
      buf = realloc(buf, cap);
      if (!buf)
        abort();
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
  } while (n > 0);
  fclose(f);
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int files = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
          continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
        failed += run_file(path);
        files++;
      }
      if (d)
        closedir(d);
    } else {
      failed += run_file(argv[i]);
      files++;
    }
  }
  printf("%d inputs replayed, %d unreadable\n", files, failed);
  return failed || files == 0;
}
