/* SPDX-License-Identifier: GPL-2.0-or-later */
/* docs/protocol.md is the contract agents are written against: every
 * message heading must state the type number, sender, window rule and body
 * size that the library actually enforces, and every type must have one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp-private.h"

static const char *direction_of(const TpSpec *s) {
  switch (s->senders) {
  case TP_ROLE_AGENT: return "A";
  case TP_ROLE_HOST: return "H";
  default: return "A/H";
  }
}

static const char *window_rule_of(const TpSpec *s) {
  switch ((TpWindowRule)s->window_rule) {
  case TP_WIN_NONE: return "window none";
  case TP_WIN_REQUIRED: return "window required";
  default: return "window optional";
  }
}

/* One heading: "### 11 WINDOW_MAP, 12 WINDOW_UNMAP — A, window required,
 * fixed 0". Checks each type it names; marks them in @seen. */
static void check_heading(char *line, int *seen) {
  char *dash = strstr(line, " — ");
  if (!dash)
    fail_msg("heading without \" — \": %s", line);
  *dash = '\0';
  char *attrs = dash + strlen(" — ");
  char dir[8], rule[32], size_kind[8];
  unsigned long size;
  char word[16];
  if (sscanf(attrs, "%7[^,], window %15[^,], %7s %lu", dir, word, size_kind,
             &size) != 4)
    fail_msg("cannot read the attributes of: %s", attrs);
  snprintf(rule, sizeof(rule), "window %s", word);

  char *save = NULL;
  for (char *item = strtok_r(line + 4, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    unsigned type;
    char name[64];
    if (sscanf(item, " %u %63s", &type, name) != 2)
      fail_msg("cannot read a type in: %s", item);
    const TpSpec *spec = tp_spec_lookup((uint16_t)type);
    if (!spec)
      fail_msg("docs name unknown type %u", type);
    assert_string_equal(name, spec->name);
    assert_string_equal(dir, direction_of(spec));
    assert_string_equal(rule, window_rule_of(spec));
    uint32_t min, max;
    tp_spec_body_bounds(spec, &min, &max);
    if (strcmp(size_kind, "fixed") == 0) {
      assert_int_equal(min, max);
      assert_int_equal(size, max);
    } else {
      assert_string_equal(size_kind, "max");
      assert_true(min < max);
      assert_int_equal(size, max);
    }
    seen[type]++;
  }
}

static void test_every_message_documented(void **state) {
  (void)state;
  const char *root = getenv("TANDEM_SOURCE_ROOT");
  char path[4096];
  snprintf(path, sizeof(path), "%s/docs/protocol.md", root ? root : ".");
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open %s", path);
  int seen[TP_MSG_LAST + 1] = {0};
  char line[512];
  int in_messages = 0;
  while (fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "## ", 3) == 0)
      in_messages = strcmp(line, "## Messages") == 0;
    else if (in_messages && strncmp(line, "### ", 4) == 0)
      check_heading(line, seen);
  }
  fclose(f);
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++)
    if (seen[t] != 1)
      fail_msg("%s is documented %d times", tp_message_type_name(t), seen[t]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_message_documented),
  };
  return cmocka_run_group_tests_name("protocol-docs", tests, NULL, NULL);
}
