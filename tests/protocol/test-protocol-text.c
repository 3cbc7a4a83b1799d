/* SPDX-License-Identifier: GPL-2.0-or-later */
/* UTF-8 validation, sanitising and truncation of text from the other side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tandem-protocol.h"

static bool valid(const char *s) { return tp_utf8_validate(s, strlen(s)); }

static void test_validate_accepts(void **state) {
  (void)state;
  assert_true(valid(""));
  assert_true(valid("plain ASCII"));
  assert_true(valid("Grüße – “quotes” ☃ 𝄞"));
  assert_true(valid("\xef\xbf\xbf"));         /* U+FFFF */
  assert_true(valid("\xf4\x8f\xbf\xbf"));     /* U+10FFFF, the last one */
  assert_true(tp_utf8_validate("a\0b", 3));   /* NUL is valid UTF-8 */
}

static void test_validate_rejects(void **state) {
  (void)state;
  assert_false(valid("\xc0\x80"));             /* overlong NUL */
  assert_false(valid("\xc1\xbf"));             /* overlong */
  assert_false(valid("\xe0\x9f\xbf"));         /* overlong 3-byte */
  assert_false(valid("\xf0\x8f\xbf\xbf"));     /* overlong 4-byte */
  assert_false(valid("\xed\xbf\xbf"));         /* low surrogate */
  assert_false(valid("\xf4\x90\x80\x80"));     /* U+110000 */
  assert_false(valid("\xf8\x88\x80\x80\x80")); /* 5-byte form */
  assert_false(valid("\xe2\x82"));             /* cut short */
  assert_false(valid("\xe2\x28\xa1"));         /* bad continuation */
  assert_false(valid("\xfe"));
}

static void check_sanitize(const char *in, const char *want) {
  char buf[256];
  size_t len = strlen(in);
  memcpy(buf, in, len);
  len = tp_text_sanitize(buf, len);
  buf[len] = '\0';
  assert_string_equal(buf, want);
}

static void test_sanitize(void **state) {
  (void)state;
  check_sanitize("clean title", "clean title");
  check_sanitize("tab\there\nnewline\r", "tabherenewline");
  check_sanitize("\x1b]0;fake title\x07", "]0;fake title");
  check_sanitize("del\x7f", "del");
  check_sanitize("c1\xc2\x80\xc2\x9f!", "c1!");      /* U+0080, U+009F */
  check_sanitize("\xc2\xa0nbsp", "\xc2\xa0nbsp");     /* U+00A0 stays */
  /* "invoice_\u202Efdp.exe" would show as "invoice_exe.pdf". */
  check_sanitize("invoice_\xe2\x80\xae" "fdp.exe", "invoice_fdp.exe");
  check_sanitize("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "");
  check_sanitize("\xe2\x81\xa6iso\xe2\x81\xa9", "iso"); /* isolates */
  check_sanitize("\xe2\x80\x8f", "\xe2\x80\x8f"); /* RLM mark is harmless */
  check_sanitize("日本語のタイトル", "日本語のタイトル");
}

static void test_truncate(void **state) {
  (void)state;
  const char *s = "aé☃𝄞"; /* 1 + 2 + 3 + 4 bytes */
  size_t len = strlen(s);
  assert_int_equal(tp_utf8_truncate(s, len, 100), len);
  assert_int_equal(tp_utf8_truncate(s, len, 10), 10);
  assert_int_equal(tp_utf8_truncate(s, len, 9), 6);  /* not inside 𝄞 */
  assert_int_equal(tp_utf8_truncate(s, len, 5), 3);  /* not inside ☃ */
  assert_int_equal(tp_utf8_truncate(s, len, 2), 1);
  assert_int_equal(tp_utf8_truncate(s, len, 0), 0);
  for (size_t max = 0; max <= len; max++)
    assert_true(tp_utf8_validate(s, tp_utf8_truncate(s, len, max)));
}

static void test_error_strings(void **state) {
  (void)state;
  for (int e = 0; e < TP_N_ERRORS; e++) {
    const char *s = tp_error_to_string((TpError)e);
    assert_non_null(s);
    assert_string_not_equal(s, "unknown error");
  }
  assert_string_equal(tp_error_to_string(TP_N_ERRORS), "unknown error");
  assert_null(tp_message_type_name(0));
  assert_string_equal(tp_message_type_name(TP_MSG_DAMAGE), "DAMAGE");
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++)
    assert_non_null(tp_message_type_name(t));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validate_accepts),
      cmocka_unit_test(test_validate_rejects),
      cmocka_unit_test(test_sanitize),
      cmocka_unit_test(test_truncate),
      cmocka_unit_test(test_error_strings),
  };
  return cmocka_run_group_tests_name("protocol-text", tests, NULL, NULL);
}
