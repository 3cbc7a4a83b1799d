/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every tandemctl command does on the bus: connect, make a call with
 * a bound, explain a failure in words, and read a dictionary. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "tandem-bus-source.h"

G_BEGIN_DECLS

/* The session bus, or NULL after printing why there is none. */
sd_bus *tandemctl_connect_session_bus(void);

/* A call to the shell's object. */
int tandemctl_new_call(sd_bus *bus, const char *interface, const char *method,
                       sd_bus_message **call);

/* Sends @call and waits for its reply. On failure prints the service's
 * message (written for the user) and returns NULL. */
sd_bus_message *tandemctl_call(sd_bus *bus, sd_bus_message *call,
                               uint64_t timeout_usec);

/* Prints why a call failed: the service's message if it sent one, a
 * timeout in seconds, or the bus's own error (@r, a negative errno). */
void tandemctl_print_call_error(int r, const sd_bus_error *error,
                                uint64_t timeout_usec);

/* For errors of the bus itself (building or reading a message): prints
 * @r (a negative errno) and returns TANDEMCTL_EXIT_FAILED. */
int tandemctl_report_errno(int r);

/* An a{sv} (GetVM's answer, a disk of Storage's) into @object: strings,
 * numbers (t, u) and booleans as such; other types are skipped, so that a
 * newer service can add more. A negative errno if it is no a{sv}. */
int tandemctl_read_properties(sd_bus_message *reply, JsonObject *object);

G_END_DECLS
