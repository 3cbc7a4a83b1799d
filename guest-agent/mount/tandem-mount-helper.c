/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-mount-helper: the guest's privileged mount service.
 *
 * The agent runs as the session user and cannot mount. This program runs
 * as root (the default guest's init starts it before the session), listens
 * on a UNIX socket that only the session user can open, checks every
 * peer's uid with SO_PEERCRED, and serves one bounded request line per
 * connection, one connection at a time:
 *   mount SERIAL LABEL ro|rw   unmount SERIAL [lazy]
 * answering "STATUS\tMOUNTPOINT\tMESSAGE". It runs no shell and no other
 * program; it only mounts under its base directory and only unmounts what
 * is mounted there. See docs/mount.md. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tandem-agent-mount.h"

#define PROG "tandem-mount-helper"
#define MAX_ALLOWED 16

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
  stop_signal = sig;
}

static void say(const char *format, ...) G_GNUC_PRINTF(1, 2);
static void say(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  g_autofree char *msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  fprintf(stderr, PROG ": %s\n", msg);
  fflush(stderr);
}

/* "UID" or "UID:GID"; a user name is looked up too. */
static gboolean parse_owner(const char *s, uid_t *uid, gid_t *gid) {
  g_auto(GStrv) parts = g_strsplit(s, ":", 2);
  guint64 u = 0, g = 0;
  if (g_ascii_string_to_unsigned(parts[0], 10, 0, G_MAXINT32, &u, NULL)) {
    struct passwd *pw = getpwuid((uid_t)u);
    g = pw ? pw->pw_gid : u;
  } else {
    struct passwd *pw = getpwnam(parts[0]);
    if (!pw)
      return FALSE;
    u = pw->pw_uid;
    g = pw->pw_gid;
  }
  if (parts[1] &&
      !g_ascii_string_to_unsigned(parts[1], 10, 0, G_MAXINT32, &g, NULL))
    return FALSE;
  *uid = (uid_t)u;
  *gid = (gid_t)g;
  return TRUE;
}

/* Binds @path atomically: a temporary name first, listening, owned by the
 * owner with mode 0600, then renamed into place, so a client never meets
 * a socket that refuses it or lets the wrong user in. */
static int listen_on(const char *path, uid_t owner, gid_t group) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  g_autofree char *tmp = g_strdup_printf("%s.%d.new", path, (int)getpid());
  if (strlen(tmp) >= sizeof addr.sun_path) {
    say("error: socket path %s is too long", path);
    return -1;
  }
  g_autofree char *dir = g_path_get_dirname(path);
  if (g_mkdir_with_parents(dir, 0755) != 0) {
    say("error: cannot create %s: %s", dir, g_strerror(errno));
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    say("error: socket: %s", g_strerror(errno));
    return -1;
  }
  strcpy(addr.sun_path, tmp);
  unlink(tmp);
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc != 0 || listen(fd, 8) != 0 || chown(tmp, owner, group) != 0 ||
      chmod(tmp, 0600) != 0 || rename(tmp, path) != 0) {
    say("error: cannot listen on %s: %s", path, g_strerror(errno));
    unlink(tmp);
    close(fd);
    return -1;
  }
  return fd;
}

static void send_all(int fd, const char *s) {
  size_t len = strlen(s);
  while (len > 0) {
    ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    s += n;
    len -= (size_t)n;
  }
}

static void reply(int fd, TandemMountResult *r) {
  g_autofree char *line = tandem_mount_result_format(r);
  send_all(fd, line);
}

/* Reads one line of at most TANDEM_MOUNT_MAX_REQUEST bytes. */
static char *read_request(int fd, const char **why) {
  char buf[TANDEM_MOUNT_MAX_REQUEST + 1];
  size_t got = 0;
  while (got < TANDEM_MOUNT_MAX_REQUEST) {
    ssize_t n = recv(fd, buf + got, TANDEM_MOUNT_MAX_REQUEST - got, 0);
    if (n < 0 && errno == EINTR && !stop_signal)
      continue;
    if (n < 0) {
      *why = errno == EAGAIN || errno == EWOULDBLOCK ? "no request in time"
                                                     : g_strerror(errno);
      return NULL;
    }
    if (n == 0) {
      *why = "the client hung up before its request ended";
      return NULL;
    }
    char *nl = memchr(buf + got, '\n', (size_t)n);
    got += (size_t)n;
    if (nl) {
      if ((size_t)(nl - buf) + 1 != got) {
        *why = "bytes after the request line";
        return NULL;
      }
      if (memchr(buf, '\0', got)) {
        *why = "a NUL byte in the request";
        return NULL;
      }
      return g_strndup(buf, got);
    }
  }
  *why = "the request is too long";
  return NULL;
}

/* --owner=seat: the user at the seat (logind's ACTIVE_UID in @seat_file),
 * asked again at each request; FALSE when nobody is. */
static gboolean seat_owner(const char *seat_file, uid_t *uid, gid_t *gid) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(seat_file, &text, NULL, NULL))
    return FALSE;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    guint64 u;
    if (g_str_has_prefix(*l, "ACTIVE_UID=") &&
        g_ascii_string_to_unsigned(*l + 11, 10, 0, G_MAXINT32, &u, NULL)) {
      struct passwd *pw = getpwuid((uid_t)u);
      *uid = (uid_t)u;
      *gid = pw ? pw->pw_gid : (gid_t)u;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean uid_allowed(uid_t uid, const uid_t *allowed, guint n) {
  for (guint i = 0; i < n; i++)
    if (allowed[i] == uid)
      return TRUE;
  return FALSE;
}

static void serve_one(int fd, const TandemMountConfig *base_config,
                      const uid_t *fixed_allowed, guint fixed_n,
                      const char *seat_file, guint timeout_ms) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      len != sizeof cred) {
    say("refused a client: SO_PEERCRED: %s", g_strerror(errno));
    return;
  }
  TandemMountConfig seat_config = *base_config;
  const TandemMountConfig *config = base_config;
  uid_t seat_allowed[2];
  const uid_t *allowed = fixed_allowed;
  guint n_allowed = fixed_n;
  if (seat_file) {
    /* The owner is whoever is at the seat now: they and root may ask. */
    if (!seat_owner(seat_file, &seat_config.owner_uid,
                    &seat_config.owner_gid)) {
      say("refused uid %u: nobody is at the seat (%s)", (unsigned)cred.uid,
          seat_file);
      g_autoptr(TandemMountResult) r = tandem_mount_result_new(
          TP_MOUNT_FAILED, "",
          "Nobody is logged in at the seat: disks are mounted for that "
          "user.");
      reply(fd, r);
      return;
    }
    config = &seat_config;
    if (!fixed_n) {
      seat_allowed[0] = seat_config.owner_uid;
      seat_allowed[1] = 0;
      allowed = seat_allowed;
      n_allowed = 2;
    }
  }
  if (!uid_allowed(cred.uid, allowed, n_allowed)) {
    say("refused uid %u (pid %d): not allowed to mount", (unsigned)cred.uid,
        (int)cred.pid);
    g_autoptr(TandemMountResult) r = tandem_mount_result_new(
        TP_MOUNT_FAILED, "",
        "uid %u may not use the mount service; only the session user may.",
        (unsigned)cred.uid);
    reply(fd, r);
    return;
  }
  struct timeval tv = {.tv_sec = timeout_ms / 1000,
                       .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  const char *why = NULL;
  g_autofree char *line = read_request(fd, &why);
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemMountRequest) req =
      line ? tandem_mount_request_parse(line, &error) : NULL;
  if (!req) {
    if (!why)
      why = error->message;
    say("uid %u (pid %d): bad request: %s", (unsigned)cred.uid,
        (int)cred.pid, why);
    g_autoptr(TandemMountResult) r = tandem_mount_result_new(
        TP_MOUNT_FAILED, "", "The mount service refused the request: %s.",
        why);
    reply(fd, r);
    return;
  }
  g_autoptr(TandemMountResult) r = tandem_mount_request_run(config, req);
  say("uid %u: %s %s%s%s%s -> %s%s%s: %s", (unsigned)cred.uid,
      req->unmount ? "unmount" : "mount", req->serial,
      req->label ? " " : "", req->label ? req->label : "",
      req->unmount ? (req->lazy ? " lazy" : "")
                   : (req->read_only ? " ro" : " rw"),
      tandem_mount_status_to_string(r->status), *r->mountpoint ? " " : "",
      r->mountpoint, r->message);
  reply(fd, r);
}

int main(int argc, char **argv) {
  g_autofree char *socket_path = NULL, *owner = NULL, *base = NULL;
  g_autofree char *sysfs = NULL, *dev = NULL, *mountinfo = NULL, *proc = NULL;
  g_autofree char *seat_file = NULL;
  g_auto(GStrv) allow = NULL;
  int timeout_ms = 5000;
  GOptionEntry entries[] = {
      {"socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
       "Listen here (default " TANDEM_MOUNT_SOCKET_DEFAULT ")", "PATH"},
      {"owner", 'o', 0, G_OPTION_ARG_STRING, &owner,
       "The session user: owns the socket and mounted files (required); "
       "seat: whoever is logged in at the seat (logind), at each request",
       "UID[:GID]|seat"},
      {"allow-uid", 'a', 0, G_OPTION_ARG_STRING_ARRAY, &allow,
       "Only these peers may ask (repeatable; default: the owner and root)",
       "UID"},
      {"base", 'b', 0, G_OPTION_ARG_FILENAME, &base,
       "Mount points are BASE/LABEL (default " TANDEM_MOUNT_BASE_DEFAULT ")",
       "DIR"},
      {"request-timeout", 0, 0, G_OPTION_ARG_INT, &timeout_ms,
       "Milliseconds a client has to send its request (default 5000)", "MS"},
      {"sysfs-root", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &sysfs,
       "For tests: sysfs", "DIR"},
      {"dev-root", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &dev,
       "For tests: device nodes", "DIR"},
      {"mountinfo", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME,
       &mountinfo, "For tests: the mount table", "FILE"},
      {"proc-root", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &proc,
       "For tests: procfs", "DIR"},
      {"seat-file", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME,
       &seat_file, "For tests: logind's seat file", "FILE"},
      {NULL},
  };
  g_autoptr(GOptionContext) ctx =
      g_option_context_new("- mount attached disks for the session user");
  g_option_context_set_summary(
      ctx, "Runs as root. Serves one request line per connection on a UNIX "
           "socket only the owner can open:\n"
           "  mount SERIAL LABEL ro|rw\n  unmount SERIAL [lazy]\n"
           "and answers \"STATUS<tab>MOUNTPOINT<tab>MESSAGE\".");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc > 1) {
    fprintf(stderr, PROG ": %s (see --help)\n",
            error ? error->message : "unexpected argument");
    return 2;
  }
  TandemMountConfig config;
  tandem_mount_config_init(&config);
  gboolean by_seat = owner && g_str_equal(owner, "seat");
  if (by_seat && !seat_file)
    seat_file = g_strdup("/run/systemd/seats/seat0");
  else if (!by_seat)
    g_clear_pointer(&seat_file, g_free);
  if (!owner ||
      (!by_seat && !parse_owner(owner, &config.owner_uid, &config.owner_gid))) {
    fprintf(stderr, PROG ": give the session user as --owner=UID[:GID], or "
                         "--owner=seat (see --help)\n");
    return 2;
  }
  uid_t allowed[MAX_ALLOWED];
  guint n_allowed = 0;
  for (char **a = allow; a && *a; a++) {
    guint64 u = 0;
    if (n_allowed == MAX_ALLOWED ||
        !g_ascii_string_to_unsigned(*a, 10, 0, G_MAXINT32, &u, NULL)) {
      fprintf(stderr, PROG ": --allow-uid %s: not a uid (at most %d)\n", *a,
              MAX_ALLOWED);
      return 2;
    }
    allowed[n_allowed++] = (uid_t)u;
  }
  if (n_allowed == 0 && !by_seat) {
    allowed[n_allowed++] = config.owner_uid;
    allowed[n_allowed++] = 0;
  }
  if (timeout_ms < 1 || timeout_ms > 600000) {
    fprintf(stderr, PROG ": --request-timeout must be 1-600000 ms\n");
    return 2;
  }
  if (base)
    config.base_dir = base;
  if (sysfs)
    config.sysfs_root = sysfs;
  if (dev)
    config.dev_root = dev;
  if (mountinfo)
    config.mountinfo = mountinfo;
  if (proc)
    config.proc_root = proc;
  if (!g_path_is_absolute(config.base_dir)) {
    fprintf(stderr, PROG ": --base must be an absolute path\n");
    return 2;
  }
  if (geteuid() != 0)
    say("warning: not running as root: every mount will fail");

  /* No SA_RESTART: a signal ends accept() and the loop. */
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  const char *path = socket_path ? socket_path : TANDEM_MOUNT_SOCKET_DEFAULT;
  /* Socket activation (systemd's tandem-mount-helper.socket): the socket
   * is fd 3, its name and mode the unit's. */
  const char *lpid = g_getenv("LISTEN_PID"), *lfds = g_getenv("LISTEN_FDS");
  gboolean activated = lpid && lfds && g_str_equal(lfds, "1") &&
                       (pid_t)g_ascii_strtoll(lpid, NULL, 10) == getpid();
  int lfd = activated ? 3 : listen_on(path, config.owner_uid,
                                      config.owner_gid);
  struct stat ours = {0};
  if (activated)
    fcntl(lfd, F_SETFD, FD_CLOEXEC);
  else if (lfd < 0 || lstat(path, &ours) != 0)
    return 1;
  g_autoptr(GString) who = g_string_new("");
  for (guint i = 0; i < n_allowed; i++)
    g_string_append_printf(who, "%s%u", i ? ", " : "", (unsigned)allowed[i]);
  if (by_seat)
    g_string_append_printf(who, "%sthe user at the seat and root",
                           n_allowed ? "; " : "");
  say("listening on %s (uid %s may ask; mount points in %s)",
      activated ? "the socket systemd gave it" : path, who->str,
      config.base_dir);

  while (!stop_signal) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      say("error: accept: %s", g_strerror(errno));
      break;
    }
    serve_one(fd, &config, allowed, n_allowed, seat_file, (guint)timeout_ms);
    close(fd);
  }
  close(lfd);
  /* Leave the name alone if another instance took it over. */
  struct stat st;
  if (!activated && lstat(path, &st) == 0 && st.st_ino == ours.st_ino &&
      st.st_dev == ours.st_dev)
    unlink(path);
  say("stopped%s", stop_signal ? " (signal)" : "");
  return stop_signal ? 0 : 1;
}
