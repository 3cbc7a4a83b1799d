/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-disk-probe.h"

#include <errno.h>
#include <gio/gio.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bounds on what is read: a QEMU with more sockets than this is not one
 * Tandem runs, and the host's tables are read only this far. */
#define MAX_FDS 4096
#define MAX_TCP_LINES 65536
#define MAX_UNIX_SOCKETS 262144
#define TCP_ESTABLISHED 1

struct _TandemDiskProbe {
  GHashTable *inodes;  /* the process's socket inodes (guint64 *) */
  GArray *tcp;         /* TandemDiskProbeTcp of those inodes */
  GHashTable *peer_of; /* the process's UNIX socket inode -> peer inode */
  GHashTable *path_of; /* UNIX socket inode -> path (host-wide) */
  gboolean unix_ok;
};

guint64 tandem_disk_probe_socket_inode(const char *link) {
  if (!link || !g_str_has_prefix(link, "socket:["))
    return 0;
  char *end = NULL;
  guint64 ino = g_ascii_strtoull(link + 8, &end, 10);
  return end && end != link + 8 && g_str_equal(end, "]") ? ino : 0;
}

/* --- /proc/net/tcp ---------------------------------------------------- */

static gboolean parse_hex_address(const char *text, gboolean v6,
                                  guint8 *addr, guint16 *port) {
  gsize len = v6 ? 32 : 8;
  if (strlen(text) != len + 5 || text[len] != ':')
    return FALSE;
  for (gsize w = 0; w < len / 8; w++) {
    char word[9];
    memcpy(word, text + w * 8, 8);
    word[8] = '\0';
    char *end;
    guint64 v = g_ascii_strtoull(word, &end, 16);
    if (*end)
      return FALSE;
    /* The kernel prints each 32-bit word of the address as it holds it:
     * read back into a word, its bytes are in network order again. */
    guint32 v32 = (guint32)v;
    memcpy(addr + w * 4, &v32, 4);
  }
  char *end;
  guint64 p = g_ascii_strtoull(text + len + 1, &end, 16);
  if (*end || p > G_MAXUINT16)
    return FALSE;
  *port = (guint16)p;
  return TRUE;
}

void tandem_disk_probe_parse_tcp(const char *text, gboolean v6,
                                 guint max_lines, GArray *out) {
  g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
  if (!lines[0]) /* "" splits into no lines at all */
    return;
  for (guint i = 1; lines[i] && i <= max_lines; i++) { /* 0: the header */
    g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
    const char *field[10];
    guint n = 0;
    for (guint k = 0; f[k] && n < G_N_ELEMENTS(field); k++)
      if (*f[k])
        field[n++] = f[k];
    if (n < 10)
      continue;
    char *end;
    guint64 st = g_ascii_strtoull(field[3], &end, 16);
    if (*end || st != TCP_ESTABLISHED)
      continue;
    TandemDiskProbeTcp c = {.v6 = v6};
    guint64 ino = g_ascii_strtoull(field[9], &end, 10);
    if (*end || !ino ||
        !parse_hex_address(field[2], v6, c.remote, &c.remote_port))
      continue;
    c.inode = ino;
    g_array_append_val(out, c);
  }
}

/* --- UNIX sockets: sock_diag ------------------------------------------ */

typedef enum { DIAG_MORE, DIAG_DONE, DIAG_BAD } DiagStep;

static void add_unix(TandemDiskProbe *p, guint64 ino, guint16 type,
                     const char *data, gsize len) {
  if (type == UNIX_DIAG_PEER && len >= sizeof(guint32) &&
      g_hash_table_contains(p->inodes, &ino)) {
    guint32 peer;
    memcpy(&peer, data, sizeof peer);
    guint64 *k = g_new(guint64, 1), *v = g_new(guint64, 1);
    *k = ino;
    *v = peer;
    g_hash_table_replace(p->peer_of, k, v);
  } else if (type == UNIX_DIAG_NAME && len > 0 && data[0] != '\0') {
    guint64 *k = g_new(guint64, 1);
    *k = ino;
    g_hash_table_replace(p->path_of, k, g_strndup(data, len));
  }
}

/* One datagram of the dump. Headers are copied out rather than cast in
 * place (the buffer has no alignment to rely on), and every length is
 * checked against what is left. */
static DiagStep parse_unix_diag(TandemDiskProbe *p, const char *buf,
                                gsize len, guint *seen) {
  gsize off = 0;
  while (off + sizeof(struct nlmsghdr) <= len) {
    struct nlmsghdr h;
    memcpy(&h, buf + off, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > len - off)
      return DIAG_BAD;
    if (h.nlmsg_type == NLMSG_DONE)
      return DIAG_DONE;
    gsize plen = h.nlmsg_len - NLMSG_HDRLEN;
    if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_len < NLMSG_HDRLEN ||
        plen < sizeof(struct unix_diag_msg) || ++*seen > MAX_UNIX_SOCKETS)
      return DIAG_BAD;
    const char *payload = buf + off + NLMSG_HDRLEN;
    struct unix_diag_msg d;
    memcpy(&d, payload, sizeof d);
    gsize a_off = NLMSG_ALIGN(sizeof d);
    while (a_off + sizeof(struct rtattr) <= plen) {
      struct rtattr a;
      memcpy(&a, payload + a_off, sizeof a);
      if (a.rta_len < sizeof a || a.rta_len > plen - a_off)
        break;
      add_unix(p, d.udiag_ino, a.rta_type, payload + a_off + RTA_LENGTH(0),
               a.rta_len - RTA_LENGTH(0));
      a_off += RTA_ALIGN(a.rta_len);
    }
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return DIAG_MORE;
}

/* Every UNIX socket of the host: its peer's inode when it is the
 * process's, its path when it has one. */
static gboolean read_unix(TandemDiskProbe *p) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    return FALSE;
  struct {
    struct nlmsghdr nlh;
    struct unix_diag_req req;
  } msg;
  memset(&msg, 0, sizeof msg); /* padding too: it goes to the kernel */
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = (guint32)-1;
  msg.req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER;
  gboolean ok = FALSE;
  guint seen = 0;
  if (send(fd, &msg, sizeof msg, 0) != (ssize_t)sizeof msg)
    goto out;
  char buf[32768];
  for (;;) {
    ssize_t len = recv(fd, buf, sizeof buf, 0);
    if (len < 0 && errno == EINTR)
      continue;
    if (len <= 0)
      goto out;
    switch (parse_unix_diag(p, buf, (gsize)len, &seen)) {
    case DIAG_MORE:
      continue;
    case DIAG_DONE:
      ok = TRUE;
      goto out;
    case DIAG_BAD:
      goto out;
    }
  }
out:
  close(fd);
  return ok;
}

/* --- The snapshot ------------------------------------------------------- */

static gboolean read_fds(TandemDiskProbe *p, GPid pid) {
  g_autofree char *dir_path = g_strdup_printf("/proc/%d/fd", (int)pid);
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
  if (!dir)
    return FALSE;
  const char *name;
  guint n = 0;
  while ((name = g_dir_read_name(dir)) && n++ < MAX_FDS) {
    g_autofree char *path = g_build_filename(dir_path, name, NULL);
    g_autofree char *link = g_file_read_link(path, NULL);
    guint64 ino = tandem_disk_probe_socket_inode(link);
    if (ino) {
      guint64 *k = g_new(guint64, 1);
      *k = ino;
      g_hash_table_add(p->inodes, k);
    }
  }
  return TRUE;
}

static void read_tcp(TandemDiskProbe *p, const char *file, gboolean v6) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(file, &text, NULL, NULL))
    return;
  g_autoptr(GArray) all = g_array_new(FALSE, FALSE,
                                      sizeof(TandemDiskProbeTcp));
  tandem_disk_probe_parse_tcp(text, v6, MAX_TCP_LINES, all);
  for (guint i = 0; i < all->len; i++) {
    TandemDiskProbeTcp *c = &g_array_index(all, TandemDiskProbeTcp, i);
    if (g_hash_table_contains(p->inodes, &c->inode))
      g_array_append_val(p->tcp, *c);
  }
}

TandemDiskProbe *tandem_disk_probe_new(GPid pid) {
  TandemDiskProbe *p = g_new0(TandemDiskProbe, 1);
  p->inodes = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                    NULL);
  p->tcp = g_array_new(FALSE, FALSE, sizeof(TandemDiskProbeTcp));
  p->peer_of = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                     g_free);
  p->path_of = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                     g_free);
  if (pid <= 0 || !read_fds(p, pid)) {
    tandem_disk_probe_free(p);
    return NULL;
  }
  read_tcp(p, "/proc/net/tcp", FALSE);
  read_tcp(p, "/proc/net/tcp6", TRUE);
  p->unix_ok = read_unix(p);
  return p;
}

void tandem_disk_probe_free(TandemDiskProbe *p) {
  if (!p)
    return;
  g_hash_table_unref(p->inodes);
  g_array_unref(p->tcp);
  g_hash_table_unref(p->peer_of);
  g_hash_table_unref(p->path_of);
  g_free(p);
}

/* --- Checking ------------------------------------------------------------ */

static gboolean same_address(const TandemDiskProbeTcp *c, GInetAddress *a) {
  const guint8 *bytes = g_inet_address_to_bytes(a);
  if (g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV4) {
    if (!c->v6)
      return memcmp(c->remote, bytes, 4) == 0;
    static const guint8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0xff, 0xff};
    return memcmp(c->remote, mapped, 12) == 0 &&
           memcmp(c->remote + 12, bytes, 4) == 0;
  }
  return c->v6 && memcmp(c->remote, bytes, 16) == 0;
}

TandemDiskProbeResult tandem_disk_probe_check(const TandemDiskProbe *p,
                                              const TandemStorageUri *u) {
  if (u->socket_path) {
    if (!p->unix_ok)
      return TANDEM_DISK_PROBE_UNKNOWN;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, p->peer_of);
    while (g_hash_table_iter_next(&it, &k, &v)) {
      const char *path = g_hash_table_lookup(p->path_of, v);
      if (path && g_str_equal(path, u->socket_path))
        return TANDEM_DISK_PROBE_CONNECTED;
    }
    return TANDEM_DISK_PROBE_NOT_CONNECTED;
  }
  guint16 port = u->port ? u->port
                         : u->protocol == TANDEM_STORAGE_ISCSI ? 3260 : 10809;
  /* A name would need resolving: its port alone is asked for. */
  g_autoptr(GInetAddress) addr =
      u->host ? g_inet_address_new_from_string(u->host) : NULL;
  for (guint i = 0; i < p->tcp->len; i++) {
    const TandemDiskProbeTcp *c =
        &g_array_index(p->tcp, TandemDiskProbeTcp, i);
    if (c->remote_port == port && (!addr || same_address(c, addr)))
      return TANDEM_DISK_PROBE_CONNECTED;
  }
  return TANDEM_DISK_PROBE_NOT_CONNECTED;
}
