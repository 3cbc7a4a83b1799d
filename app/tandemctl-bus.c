/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl's calls: synchronous (a command line tool has nothing else to
 * serve meanwhile) and each bounded. Calling the shell starts it through
 * D-Bus activation when it is not running. */
#include "config.h"

#include "tandemctl-bus.h"

#include <errno.h>

#include "tandem-dbus-service.h"
#include "tandem-i18n.h"
#include "tandemctl-vm.h"

int tandemctl_report_errno(int r) {
  /* TRANSLATORS: %s is a system error message. */
  g_printerr(_("tandemctl: cannot talk to Tandem over D-Bus: %s\n"),
             g_strerror(-r));
  return TANDEMCTL_EXIT_FAILED;
}

sd_bus *tandemctl_connect_session_bus(void) {
  sd_bus *bus = NULL;
  int r = sd_bus_open_user(&bus);

  if (r == -ENOMEDIUM) {
    g_printerr(_("tandemctl: there is no session bus: neither "
                 "DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set.\n"));
    return NULL;
  }
  if (r < 0) {
    /* TRANSLATORS: %s is a system error message. */
    g_printerr(_("tandemctl: cannot connect to the session bus: %s\n"),
               g_strerror(-r));
    return NULL;
  }
  return bus;
}

int tandemctl_new_call(sd_bus *bus, const char *interface, const char *method,
                       sd_bus_message **call) {
  return sd_bus_message_new_method_call(bus, call, TANDEM_DBUS_NAME,
                                        TANDEM_DBUS_PATH, interface, method);
}

void tandemctl_print_call_error(int r, const sd_bus_error *error,
                                uint64_t timeout_usec) {
  if (r == -ETIMEDOUT || sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY)) {
    unsigned seconds = (unsigned)(timeout_usec / G_USEC_PER_SEC);
    g_printerr(ngettext("tandemctl: Tandem did not answer within %u second.\n",
                        "tandemctl: Tandem did not answer within %u seconds.\n",
                        seconds),
               seconds);
  } else if (sd_bus_error_is_set(error) && error->message) {
    g_printerr("tandemctl: %s\n", error->message);
  } else {
    tandemctl_report_errno(r); /* no answer at all: the bus itself failed */
  }
}

sd_bus_message *tandemctl_call(sd_bus *bus, sd_bus_message *call,
                               uint64_t timeout_usec) {
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  sd_bus_message *reply = NULL;
  int r = sd_bus_call(bus, call, timeout_usec, &error, &reply);

  if (r >= 0)
    return reply;
  tandemctl_print_call_error(r, &error, timeout_usec);
  return NULL;
}

/* One {sv} entry (entered) into @object. Types this tandemctl does not
 * know are skipped, so a newer service can add more. */
static int read_property(sd_bus_message *reply, JsonObject *object) {
  const char *key, *type = NULL;
  int r = sd_bus_message_read(reply, "s", &key);

  if (r >= 0)
    r = sd_bus_message_peek_type(reply, NULL, &type);
  if (r < 0)
    return r;
  if (g_strcmp0(type, "s") == 0) {
    const char *text;
    r = sd_bus_message_read(reply, "v", "s", &text);
    if (r >= 0)
      json_object_set_string_member(object, key, text);
  } else if (g_strcmp0(type, "t") == 0) {
    uint64_t number;
    r = sd_bus_message_read(reply, "v", "t", &number);
    if (r >= 0)
      json_object_set_int_member(object, key,
                                 (gint64)MIN(number, G_MAXINT64));
  } else if (g_strcmp0(type, "u") == 0) {
    uint32_t number;
    r = sd_bus_message_read(reply, "v", "u", &number);
    if (r >= 0)
      json_object_set_int_member(object, key, number);
  } else if (g_strcmp0(type, "b") == 0) {
    int flag;
    r = sd_bus_message_read(reply, "v", "b", &flag);
    if (r >= 0)
      json_object_set_boolean_member(object, key, flag);
  } else {
    r = sd_bus_message_skip(reply, "v");
  }
  return r;
}

int tandemctl_read_properties(sd_bus_message *reply, JsonObject *object) {
  int r = sd_bus_message_enter_container(reply, 'a', "{sv}");

  if (r < 0)
    return r;
  while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
    r = read_property(reply, object);
    if (r >= 0)
      r = sd_bus_message_exit_container(reply);
    if (r < 0)
      return r;
  }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container(reply);
}
