/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A scripted fake QMP server for the QMP tests: a thread with a blocking
 * socket that plays a list of steps against one client, and reports the
 * first step that did not go as scripted when the test joins it. */
#pragma once

#include <glib.h>

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": " \
                 "2, \"major\": 7}, \"package\": \"fake\"}, \"capabilities\": " \
                 "[\"oob\"]}}"

typedef enum {
  SEND,      /* text */
  REPLY,     /* read a line containing expect, answer text with its id */
  EXPECT,    /* read a command that, without its id, is the JSON expect;
                answer text with its id */
  READ,      /* read a line containing expect, remember its id */
  SEND_ID,   /* text with the id remembered by READ number n */
  RECV_FD,   /* read a line with an fd attached (if expect, it must be that
                command as for EXPECT); keep the fd's data; answer {} */
  SEND_RAW,  /* n bytes of 'x', no newline */
  WAIT_EOF,  /* until the client closes */
  CLOSE,
  END,
} Op;

typedef struct {
  Op op;
  const char *expect;
  const char *text; /* the first "%lld" in it is replaced by the id */
  int n;
} Step;

#define HANDSHAKE {SEND, NULL, GREETING, 0}, \
  {REPLY, "qmp_capabilities", "{\"return\": {}, \"id\": %lld}", 0}

typedef struct {
  char dir[64], path[128];
  int listen_fd;
  const Step *script;
  GThread *thread;
  long long ids[8];
  int n_ids;
  char fd_data[64];
  char failure[1024];
} Fake;

/* Listens on a fresh socket (f->path) and plays @script (not copied: it
 * must outlive the server) against the first client. */
Fake *fake_start(const Step *script);
/* Joins the server, fails the test if a step went wrong, frees @f. */
void fake_finish(Fake *f);
/* The same, copying what the server read from a passed fd to @fd_data. */
void fake_finish_with_data(Fake *f, char fd_data[64]);
