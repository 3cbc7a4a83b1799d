/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the qcow2 header reader (storage/tandem-qcow2.h), which
 * reads the snapshot disk images' headers to know their backing files.
 * Beyond "no crash, no leak, no UB": what it accepts is bounded text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem-qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *backing = NULL, *format = NULL;
  GError *error = NULL;
  if (tandem_qcow2_parse_backing(data, size, &backing, &format, &error)) {
    if (error || (backing && (strlen(backing) == 0 ||
                              strlen(backing) > TANDEM_QCOW2_MAX_BACKING)) ||
        (format && !backing))
      abort();
  } else if (!error || backing || format) {
    abort();
  }
  g_free(backing);
  g_free(format);
  g_clear_error(&error);
  return 0;
}
