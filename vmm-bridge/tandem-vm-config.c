/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-vm-config.h"
#include "tandem-qemu-argv.h"

#include <errno.h>
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(tandem-vmm-error-quark, tandem_vmm_error)

#define GROUP_VM "VM"
#define GROUP_BOOT "Boot"
#define GROUP_SNAPSHOTS "Snapshots"
#define GROUP_LIMITS "Limits"
#define DISK_PREFIX "Disk "
#define STORAGE_PREFIX "Storage "
#define MAX_URI 8192

gboolean tandem_vm_name_is_valid(const char *name) {
  size_t len = name ? strlen(name) : 0;
  if (len == 0 || len > 64 || name[0] == '-')
    return FALSE;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_isalnum(name[i]) && name[i] != '-' && name[i] != '_')
      return FALSE;
  return TRUE;
}

/* Disk names become QEMU node names ("disk-NAME-file", 31 characters at
 * most) and virtio serial numbers (20 at most). */
static gboolean disk_name_is_valid(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > 20 || !g_ascii_islower(name[0]))
    return FALSE;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_islower(name[i]) && !g_ascii_isdigit(name[i]) &&
        name[i] != '-' && name[i] != '_')
      return FALSE;
  return TRUE;
}

const char *tandem_accel_to_string(TandemAccel accel) {
  switch (accel) {
  case TANDEM_ACCEL_KVM: return "kvm";
  case TANDEM_ACCEL_TCG: return "tcg";
  default: return "auto";
  }
}

gboolean tandem_vm_attachment_name_is_valid(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > 32 || name[0] == '.' || name[0] == '-')
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum(name[i]) && !strchr("._-", name[i]))
      return FALSE;
  return TRUE;
}

TandemVmAttachment *tandem_vm_attachment_new(const char *name,
                                             const char *uri,
                                             const char *bus,
                                             gboolean read_only) {
  TandemVmAttachment *a = g_new0(TandemVmAttachment, 1);
  a->name = g_strdup(name);
  a->uri = g_strdup(uri);
  a->bus = g_strdup(bus);
  a->read_only = read_only;
  return a;
}

gboolean tandem_vm_attachment_serial_is_valid(const char *serial) {
  if (!serial || strlen(serial) != 12 || strncmp(serial, "tdm-", 4))
    return FALSE;
  for (int i = 4; i < 12; i++)
    if (!g_ascii_isxdigit(serial[i]) || g_ascii_isupper(serial[i]))
      return FALSE;
  return TRUE;
}

void tandem_vm_attachment_free(TandemVmAttachment *a) {
  if (!a)
    return;
  g_free(a->serial);
  g_free(a->port);
  g_free(a->name);
  g_free(a->uri);
  g_free(a->mirror);
  g_free(a->bus);
  g_free(a);
}

TandemVmAttachment *tandem_vm_config_find_attachment(const TandemVmConfig *c,
                                                     const char *name) {
  for (guint i = 0; i < c->attachments->len; i++) {
    TandemVmAttachment *a = c->attachments->pdata[i];
    if (!g_strcmp0(a->name, name))
      return a;
  }
  return NULL;
}

static void disk_free(TandemVmDisk *d) {
  g_free(d->name);
  g_free(d->path);
  g_free(d->format);
  g_free(d);
}

TandemVmConfig *tandem_vm_config_new(const char *name) {
  TandemVmConfig *c = g_new0(TandemVmConfig, 1);
  c->name = g_strdup(name);
  c->memory = 1ull << 30;
  c->cpus = 2;
  c->accel = TANDEM_ACCEL_AUTO;
  c->display = TANDEM_DISPLAY_SPICE;
  c->hotplug_ports = 4;
  c->pixel_memory = TANDEM_VM_DEFAULT_PIXEL_MEMORY;
  c->snapshot_keep = TANDEM_VM_DEFAULT_SNAPSHOT_KEEP;
  c->disks = g_ptr_array_new_with_free_func((GDestroyNotify)disk_free);
  c->attachments = g_ptr_array_new_with_free_func(
      (GDestroyNotify)tandem_vm_attachment_free);
  return c;
}

void tandem_vm_config_free(TandemVmConfig *c) {
  if (!c)
    return;
  g_free(c->name);
  g_free(c->kernel);
  g_free(c->initrd);
  g_free(c->cmdline);
  g_free(c->image);
  g_free(c->image_format);
  g_strfreev(c->forwards);
  g_ptr_array_unref(c->disks);
  g_ptr_array_unref(c->attachments);
  g_free(c);
}

char *tandem_vm_data_dir(const char *name) {
  return g_build_filename(g_get_user_data_dir(), "tandem", "vms", name, NULL);
}

gboolean tandem_parse_size(const char *text, guint64 *bytes) {
  char *end = NULL;
  if (!text || !g_ascii_isdigit(*text))
    return FALSE;
  errno = 0;
  double v = g_ascii_strtod(text, &end);
  if (errno || end == text || v < 0)
    return FALSE;
  double unit = 1;
  switch (g_ascii_toupper(*end)) {
  case '\0': break;
  case 'K': unit = 1024.0; break;
  case 'M': unit = 1024.0 * 1024; break;
  case 'G': unit = 1024.0 * 1024 * 1024; break;
  case 'T': unit = 1024.0 * 1024 * 1024 * 1024; break;
  default: return FALSE;
  }
  if (*end) {
    end++;
    if (g_ascii_toupper(*end) == 'I' && g_ascii_toupper(end[1]) == 'B')
      end += 2;
    else if (g_ascii_toupper(*end) == 'B')
      end++;
  }
  if (*end || v * unit > 18e18)
    return FALSE;
  *bytes = (guint64)(v * unit);
  return TRUE;
}

gboolean tandem_parse_duration(const char *text, guint64 *seconds) {
  char *end = NULL;
  if (!text || !g_ascii_isdigit(*text))
    return FALSE;
  errno = 0;
  guint64 v = g_ascii_strtoull(text, &end, 10);
  if (errno || end == text)
    return FALSE;
  guint64 unit = 1;
  switch (*end) {
  case '\0': case 's': break;
  case 'm': unit = 60; break;
  case 'h': unit = 3600; break;
  case 'd': unit = 86400; break;
  default: return FALSE;
  }
  if (*end && end[1])
    return FALSE;
  if (v > TANDEM_MAX_DURATION / unit)
    return FALSE;
  *seconds = v * unit;
  return TRUE;
}

char *tandem_format_duration(guint64 s) {
  if (s && s % 86400 == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT "d", s / 86400);
  if (s && s % 3600 == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT "h", s / 3600);
  if (s && s % 60 == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT "m", s / 60);
  return g_strdup_printf("%" G_GUINT64_FORMAT "s", s);
}

/* --- Parsing ----------------------------------------------------------- */

typedef struct {
  const char *file; /* for messages: "NAME.conf" */
  GKeyFile *kf;
  const char *base_dir;
} Parser;

static gboolean fail(GError **error, const Parser *p, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static gboolean fail(GError **error, const Parser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_CONFIG, "%s: %s",
              p->file, msg);
  return FALSE;
}

static gboolean check_keys(const Parser *p, const char *group,
                           const char *const *known, GError **error) {
  g_auto(GStrv) keys = g_key_file_get_keys(p->kf, group, NULL, NULL);
  for (char **k = keys; k && *k; k++) {
    if (!g_strv_contains(known, *k)) {
      g_autofree char *list = g_strjoinv(", ", (char **)known);
      return fail(error, p, "unknown key “%s” in [%s]; the keys there are %s",
                  *k, group, list);
    }
  }
  return TRUE;
}

/* A string value, or NULL if absent (empty counts as absent). */
static char *get_string(const Parser *p, const char *group, const char *key) {
  char *v = g_key_file_get_string(p->kf, group, key, NULL);
  if (v && !*v)
    g_clear_pointer(&v, g_free);
  return v;
}

static char *get_path(const Parser *p, const char *group, const char *key) {
  g_autofree char *v = get_string(p, group, key);
  if (!v)
    return NULL;
  if (g_path_is_absolute(v))
    return g_steal_pointer(&v);
  return g_build_filename(p->base_dir, v, NULL);
}

static gboolean get_uint(const Parser *p, const char *group, const char *key,
                         guint min, guint max, guint *out, GError **error) {
  g_autofree char *v = get_string(p, group, key);
  guint64 n;
  if (!v)
    return TRUE;
  if (!g_ascii_string_to_unsigned(v, 10, min, max, &n, NULL))
    return fail(error, p, "%s “%s” in [%s] must be a whole number from %u to "
                "%u", key, v, group, min, max);
  *out = (guint)n;
  return TRUE;
}

static gboolean get_choice(const Parser *p, const char *group, const char *key,
                           const char *const *choices, int *out,
                           GError **error) {
  g_autofree char *v = get_string(p, group, key);
  if (!v)
    return TRUE;
  for (int i = 0; choices[i]; i++) {
    if (g_ascii_strcasecmp(v, choices[i]) == 0) {
      *out = i;
      return TRUE;
    }
  }
  g_autofree char *list = g_strjoinv(", ", (char **)choices);
  return fail(error, p, "%s “%s” in [%s] must be one of: %s", key, v, group,
              list);
}

static gboolean get_format(const Parser *p, const char *group,
                           const char *key, char **out, GError **error) {
  static const char *const formats[] = {"qcow2", "raw", NULL};
  int f = 0;
  if (!get_choice(p, group, key, formats, &f, error))
    return FALSE;
  *out = g_strdup(formats[f]);
  return TRUE;
}

/* "A.B.C.D:PORT", an IPv4 address in dotted quads and a port 1..65535. */
static gboolean parse_endpoint(const char *text, guint8 ip[4], guint *port) {
  guint v[5];
  char tail;
  if (sscanf(text, "%3u.%3u.%3u.%3u:%5u%c", &v[0], &v[1], &v[2], &v[3], &v[4],
             &tail) != 5)
    return FALSE;
  for (int i = 0; i < 4; i++) {
    if (v[i] > 255)
      return FALSE;
    ip[i] = (guint8)v[i];
  }
  *port = v[4];
  return v[4] >= 1 && v[4] <= 65535 && g_ascii_isdigit(*text);
}

gboolean tandem_vm_forward_parse(const char *text, guint8 guest_ip[4],
                                 guint *guest_port, guint8 host_ip[4],
                                 guint *host_port) {
  const char *eq = text ? strchr(text, '=') : NULL;
  if (!eq || eq - text > 21)
    return FALSE;
  g_autofree char *guest = g_strndup(text, (gsize)(eq - text));
  /* The guest's side: on its network (10.0.2.0/24), not the network's
   * own addresses (.2 the host, .3 DNS, .15 the guest) nor its ends. */
  if (!parse_endpoint(guest, guest_ip, guest_port) ||
      !parse_endpoint(eq + 1, host_ip, host_port) || guest_ip[0] != 10 ||
      guest_ip[1] != 0 || guest_ip[2] != 2)
    return FALSE;
  switch (guest_ip[3]) {
  case 0: case 2: case 3: case 15: case 255:
    return FALSE;
  default:
    return TRUE;
  }
}

static gboolean get_forwards(const Parser *p, TandemVmConfig *c,
                             GError **error) {
  if (!g_key_file_has_key(p->kf, GROUP_VM, "Forward", NULL))
    return TRUE;
  gsize n = 0;
  g_auto(GStrv) list = g_key_file_get_string_list(p->kf, GROUP_VM, "Forward",
                                                  &n, NULL);
  if (!list || n == 0)
    return TRUE;
  if (n > TANDEM_VM_MAX_FORWARDS)
    return fail(error, p, "Forward in [VM] lists %zu forwards: at most %d",
                (size_t)n, TANDEM_VM_MAX_FORWARDS);
  for (gsize i = 0; i < n; i++) {
    guint8 gi[4], hi[4];
    guint gp, hp;
    g_strstrip(list[i]);
    if (!tandem_vm_forward_parse(list[i], gi, &gp, hi, &hp))
      return fail(error, p, "Forward “%s” in [VM] is not GUEST:PORT=HOST:PORT "
                  "with IPv4 addresses, the guest's in 10.0.2.0/24 (not .2, "
                  ".3 or .15), like 10.0.2.100:80=127.0.0.1:8080", list[i]);
  }
  g_strfreev(c->forwards);
  c->forwards = g_steal_pointer(&list);
  return TRUE;
}

static gboolean parse_vm_group(const Parser *p, TandemVmConfig *c,
                               GError **error) {
  static const char *const keys[] = {"Memory", "CPUs", "Accelerator",
                                     "Display", "HotplugPorts",
                                     "SaveOnStop", "PixelMemory", "Network",
                                     "Forward", NULL};
  static const char *const accels[] = {"auto", "kvm", "tcg", NULL};
  static const char *const displays[] = {"spice", "none", NULL};
  if (!g_key_file_has_group(p->kf, GROUP_VM))
    return TRUE;
  if (!check_keys(p, GROUP_VM, keys, error))
    return FALSE;

  g_autofree char *mem = get_string(p, GROUP_VM, "Memory");
  if (mem) {
    if (!tandem_parse_size(mem, &c->memory))
      return fail(error, p, "Memory “%s” is not a size: write a number and a "
                  "unit, like 512M or 2G", mem);
    if (c->memory < TANDEM_VM_MIN_MEMORY || c->memory > TANDEM_VM_MAX_MEMORY)
      return fail(error, p, "Memory %s is out of range: give 64M to 1T", mem);
  }
  g_autofree char *pix = get_string(p, GROUP_VM, "PixelMemory");
  if (pix) {
    if (!tandem_parse_size(pix, &c->pixel_memory))
      return fail(error, p, "PixelMemory “%s” is not a size: write a number "
                  "and a unit, like 64M (0 for none)", pix);
    if (c->pixel_memory &&
        (c->pixel_memory < TANDEM_VM_MIN_PIXEL_MEMORY ||
         c->pixel_memory > TANDEM_VM_MAX_PIXEL_MEMORY ||
         (c->pixel_memory & (c->pixel_memory - 1))))
      return fail(error, p, "PixelMemory %s is not possible: give a power of "
                  "two from 4M to 1G, or 0 for none", pix);
  }
  static const char *const networks[] = {"user", "restricted", "none",
                                         NULL};
  int network = c->network;
  if (!get_choice(p, GROUP_VM, "Network", networks, &network, error) ||
      !get_forwards(p, c, error))
    return FALSE;
  c->network = (TandemNetwork)network;
  if (c->forwards && c->network == TANDEM_NETWORK_NONE)
    return fail(error, p, "Forward in [VM] needs a network: Network=user or "
                "Network=restricted");
  int accel = c->accel, display = c->display;
  if (!get_uint(p, GROUP_VM, "CPUs", 1, TANDEM_VM_MAX_CPUS, &c->cpus, error) ||
      !get_uint(p, GROUP_VM, "HotplugPorts", 0, TANDEM_VM_MAX_HOTPLUG_PORTS,
                &c->hotplug_ports, error) ||
      !get_choice(p, GROUP_VM, "Accelerator", accels, &accel, error) ||
      !get_choice(p, GROUP_VM, "Display", displays, &display, error))
    return FALSE;
  c->accel = (TandemAccel)accel;
  c->display = (TandemDisplay)display;
  if (g_key_file_has_key(p->kf, GROUP_VM, "SaveOnStop", NULL)) {
    g_autoptr(GError) local = NULL;
    c->save_on_stop =
        g_key_file_get_boolean(p->kf, GROUP_VM, "SaveOnStop", &local);
    if (local)
      return fail(error, p, "SaveOnStop in [VM] must be true or false");
  }
  return TRUE;
}

static gboolean parse_boot_group(const Parser *p, TandemVmConfig *c,
                                 GError **error) {
  static const char *const keys[] = {"Kernel", "Initrd", "CommandLine",
                                     "Image", "ImageFormat", NULL};
  if (!g_key_file_has_group(p->kf, GROUP_BOOT))
    return fail(error, p, "no [Boot] section: say what to boot with Kernel= "
                "(and Initrd=, CommandLine=) or Image=");
  if (!check_keys(p, GROUP_BOOT, keys, error))
    return FALSE;
  c->kernel = get_path(p, GROUP_BOOT, "Kernel");
  c->initrd = get_path(p, GROUP_BOOT, "Initrd");
  c->cmdline = get_string(p, GROUP_BOOT, "CommandLine");
  c->image = get_path(p, GROUP_BOOT, "Image");
  if (!get_format(p, GROUP_BOOT, "ImageFormat", &c->image_format, error))
    return FALSE;
  if (c->kernel && c->image)
    return fail(error, p, "[Boot] has both Kernel= and Image=: keep one");
  if (!c->kernel && !c->image)
    return fail(error, p, "[Boot] needs Kernel= or Image=");
  if (!c->kernel && (c->initrd || c->cmdline))
    return fail(error, p, "Initrd= and CommandLine= in [Boot] need a Kernel=");
  if (!c->image)
    g_clear_pointer(&c->image_format, g_free);
  return TRUE;
}

static gboolean parse_disk_group(const Parser *p, TandemVmConfig *c,
                                 const char *group, GError **error) {
  static const char *const keys[] = {"Path", "Format", "ReadOnly", NULL};
  const char *name = group + strlen(DISK_PREFIX);
  if (!disk_name_is_valid(name))
    return fail(error, p, "disk name “%s” in [%s] is not valid: use 1 to 20 "
                "lowercase letters, digits, - and _, starting with a letter",
                name, group);
  if (!check_keys(p, group, keys, error))
    return FALSE;
  if (c->disks->len >= TANDEM_VM_MAX_DISKS)
    return fail(error, p, "more than %d disks", TANDEM_VM_MAX_DISKS);
  g_autoptr(GError) local = NULL;
  TandemVmDisk *d = g_new0(TandemVmDisk, 1);
  g_ptr_array_add(c->disks, d);
  d->name = g_strdup(name);
  d->path = get_path(p, group, "Path");
  if (!d->path)
    return fail(error, p, "[%s] needs Path=", group);
  if (!get_format(p, group, "Format", &d->format, error))
    return FALSE;
  if (g_key_file_has_key(p->kf, group, "ReadOnly", NULL)) {
    d->read_only = g_key_file_get_boolean(p->kf, group, "ReadOnly", &local);
    if (local)
      return fail(error, p, "ReadOnly in [%s] must be true or false", group);
  }
  return TRUE;
}

static gboolean parse_storage_group(const Parser *p, TandemVmConfig *c,
                                    const char *group, GError **error) {
  static const char *const keys[] = {"URI", "Mirror", "Bus", "ReadOnly",
                                     "Serial", "Port", NULL};
  const char *name = group + strlen(STORAGE_PREFIX);
  if (!tandem_vm_attachment_name_is_valid(name))
    return fail(error, p, "network disk name “%s” in [%s] is not valid: use "
                "1 to 32 letters, digits, ., - and _, not starting with . "
                "or -", name, group);
  if (!check_keys(p, group, keys, error))
    return FALSE;
  if (tandem_vm_config_find_attachment(c, name))
    return fail(error, p, "[%s] appears twice", group);
  if (c->attachments->len >= TANDEM_VM_MAX_ATTACHMENTS)
    return fail(error, p, "more than %d network disks",
                TANDEM_VM_MAX_ATTACHMENTS);
  g_autofree char *uri = get_string(p, group, "URI");
  if (!uri || strlen(uri) > MAX_URI)
    return fail(error, p, "[%s] needs URI= (nbd://HOST/EXPORT, "
                "nbd+unix:///EXPORT?socket=PATH or iscsi://HOST/TARGET/LUN)",
                group);
  g_autofree char *mirror = get_string(p, group, "Mirror");
  if (mirror && strlen(mirror) > MAX_URI)
    return fail(error, p, "Mirror in [%s] is too long", group);
  g_autofree char *bus = get_string(p, group, "Bus");
  if (bus && !g_str_equal(bus, "nvme") && !g_str_equal(bus, "virtio"))
    return fail(error, p, "Bus in [%s] must be nvme or virtio, not “%s”",
                group, bus);
  gboolean ro = FALSE;
  if (g_key_file_has_key(p->kf, group, "ReadOnly", NULL)) {
    g_autoptr(GError) local = NULL;
    ro = g_key_file_get_boolean(p->kf, group, "ReadOnly", &local);
    if (local)
      return fail(error, p, "ReadOnly in [%s] must be true or false", group);
  }
  g_autofree char *serial = get_string(p, group, "Serial");
  if (serial && !tandem_vm_attachment_serial_is_valid(serial))
    return fail(error, p, "Serial in [%s] “%s” is not one Tandem gave: "
                "remove the line", group, serial);
  g_autofree char *port = get_string(p, group, "Port");
  guint64 n;
  if (port && (!g_str_has_prefix(port, TANDEM_HOTPLUG_PORT_PREFIX) ||
               !g_ascii_string_to_unsigned(
                   port + strlen(TANDEM_HOTPLUG_PORT_PREFIX), 10, 0,
                   TANDEM_VM_MAX_HOTPLUG_PORTS - 1, &n, NULL)))
    return fail(error, p, "Port in [%s] “%s” is not a hot-plug port: "
                "remove the line", group, port);
  TandemVmAttachment *a =
      tandem_vm_attachment_new(name, uri, bus ? bus : "nvme", ro);
  a->mirror = g_steal_pointer(&mirror);
  a->serial = g_steal_pointer(&serial);
  a->port = g_steal_pointer(&port);
  g_ptr_array_add(c->attachments, a);
  return TRUE;
}

static gboolean get_duration(const Parser *p, const char *key,
                             guint64 min, guint64 *out, GError **error) {
  g_autofree char *text = get_string(p, GROUP_SNAPSHOTS, key);
  if (!text)
    return TRUE;
  if (!tandem_parse_duration(text, out) || (*out && *out < min))
    return fail(error, p, "%s in [Snapshots] “%s” is not a duration of at "
                "least %" G_GUINT64_FORMAT " s: write a number and a unit, "
                "like 30m, 2h or 7d (0 for none)",
                key, text, min);
  return TRUE;
}

static gboolean parse_limits_group(const Parser *p, TandemVmConfig *c,
                                   GError **error) {
  static const char *const keys[] = {"WindowMemory", "CatalogMemory",
                                     "OutputQueue", NULL};
  guint64 *fields[] = {&c->limit_window_memory, &c->limit_catalog_memory,
                       &c->limit_output_queue};
  if (!g_key_file_has_group(p->kf, GROUP_LIMITS))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
    g_autofree char *text = get_string(p, GROUP_LIMITS, keys[i]);
    if (text && (!tandem_parse_size(text, fields[i]) ||
                 *fields[i] < TANDEM_VM_MIN_LIMIT ||
                 *fields[i] > TANDEM_VM_MAX_LIMIT))
      return fail(error, p, "%s “%s” in [Limits] is not a size from 64K to "
                  "64G: write a number and a unit, like 512M", keys[i], text);
  }
  return check_keys(p, GROUP_LIMITS, keys, error);
}

static gboolean parse_snapshots_group(const Parser *p, TandemVmConfig *c,
                                      GError **error) {
  static const char *const keys[] = {"Every",     "Keep",        "MaxAge",
                                     "Method",    "QueueSize",   "Compression",
                                     NULL};
  static const char *const hows[] = {"auto", "live", "paused", NULL};
  int how = c->snapshot_how;
  if (!g_key_file_has_group(p->kf, GROUP_SNAPSHOTS))
    return TRUE;
  if (!get_choice(p, GROUP_SNAPSHOTS, "Method", hows, &how, error))
    return FALSE;
  c->snapshot_how = (TandemSnapshotHow)how;
  g_autofree char *queue = get_string(p, GROUP_SNAPSHOTS, "QueueSize");
  if (queue && (!tandem_parse_size(queue, &c->snapshot_queue) ||
                c->snapshot_queue < TANDEM_VM_MIN_SNAPSHOT_QUEUE ||
                c->snapshot_queue > TANDEM_VM_MAX_SNAPSHOT_QUEUE))
    return fail(error, p, "QueueSize “%s” in [Snapshots] is not a size from "
                "4M to 16G: write a number and a unit, like 256M", queue);
  g_autofree char *level = get_string(p, GROUP_SNAPSHOTS, "Compression");
  gint64 l = 0;
  if (level && !g_ascii_string_to_signed(level, 10,
                                         TANDEM_VM_MIN_SNAPSHOT_COMPRESSION,
                                         TANDEM_VM_MAX_SNAPSHOT_COMPRESSION,
                                         &l, NULL))
    return fail(error, p, "Compression “%s” in [Snapshots] must be a zstd "
                "level from -5 (fastest) to 19 (smallest)", level);
  c->snapshot_compression = (int)l;
  c->snapshot_compression_set = level != NULL;
  return check_keys(p, GROUP_SNAPSHOTS, keys, error) &&
         get_duration(p, "Every", TANDEM_VM_MIN_SNAPSHOT_EVERY,
                      &c->snapshot_every, error) &&
         get_duration(p, "MaxAge", 1, &c->snapshot_max_age, error) &&
         get_uint(p, GROUP_SNAPSHOTS, "Keep", 1, TANDEM_VM_MAX_SNAPSHOT_KEEP,
                  &c->snapshot_keep, error);
}

TandemVmConfig *tandem_vm_config_parse(const char *name, const char *data,
                                       const char *base_dir, GError **error) {
  g_autofree char *file = g_strdup_printf("%s.conf", name);
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;
  Parser p = {file, kf, base_dir};

  if (!tandem_vm_name_is_valid(name)) {
    g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_CONFIG,
                "“%s” is not a valid VM name: use letters, digits, - and _",
                name);
    return NULL;
  }
  if (!g_key_file_load_from_data(kf, data, (gsize)-1, G_KEY_FILE_NONE,
                                 &local)) {
    fail(error, &p, "%s", local->message);
    return NULL;
  }
  g_autoptr(TandemVmConfig) c = tandem_vm_config_new(name);
  g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
  for (char **g = groups; *g; g++) {
    gboolean ok;
    if (g_str_equal(*g, GROUP_VM) || g_str_equal(*g, GROUP_BOOT) ||
        g_str_equal(*g, GROUP_SNAPSHOTS) || g_str_equal(*g, GROUP_LIMITS))
      continue;
    if (g_str_has_prefix(*g, DISK_PREFIX))
      ok = parse_disk_group(&p, c, *g, error);
    else if (g_str_has_prefix(*g, STORAGE_PREFIX))
      ok = parse_storage_group(&p, c, *g, error);
    else
      ok = fail(error, &p, "unknown section [%s]; the sections are [VM], "
                "[Boot], [Snapshots], [Limits], [Disk NAME] and "
                "[Storage NAME]", *g);
    if (!ok)
      return NULL;
  }
  if (!parse_vm_group(&p, c, error) || !parse_boot_group(&p, c, error) ||
      !parse_snapshots_group(&p, c, error) ||
      !parse_limits_group(&p, c, error))
    return NULL;
  return g_steal_pointer(&c);
}

TandemVmConfig *tandem_vm_config_load(const char *config_dir, const char *name,
                                      GError **error) {
  g_autofree char *file = g_strdup_printf("%s.conf", name);
  g_autofree char *path = g_build_filename(config_dir, file, NULL);
  g_autofree char *data = NULL;
  g_autofree char *base = tandem_vm_data_dir(name);
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents(path, &data, NULL, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_NOT_FOUND,
                  "There is no VM called “%s” (no %s)", name, path);
    else
      g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  return tandem_vm_config_parse(name, data, base, error);
}

static gboolean check_file(const char *what, const char *path,
                           const char *name, GError **error) {
  if (!path || g_file_test(path, G_FILE_TEST_IS_REGULAR))
    return TRUE;
  g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_CONFIG,
              "%s.conf: the %s %s does not exist", name, what, path);
  return FALSE;
}

gboolean tandem_vm_config_check_files(const TandemVmConfig *c,
                                      GError **error) {
  if (!check_file("kernel", c->kernel, c->name, error) ||
      !check_file("initrd", c->initrd, c->name, error) ||
      !check_file("disk image", c->image, c->name, error))
    return FALSE;
  for (guint i = 0; i < c->disks->len; i++) {
    TandemVmDisk *d = c->disks->pdata[i];
    if (!check_file("disk", d->path, c->name, error))
      return FALSE;
  }
  return TRUE;
}

/* --- Writing ----------------------------------------------------------- */

static void set_if(GKeyFile *kf, const char *group, const char *key,
                   const char *value) {
  if (value)
    g_key_file_set_string(kf, group, key, value);
}

char *tandem_vm_config_to_data(const TandemVmConfig *c) {
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autofree char *mem = g_strdup_printf("%" G_GUINT64_FORMAT "M",
                                         c->memory >> 20);
  g_key_file_set_string(kf, GROUP_VM, "Memory", mem);
  g_key_file_set_integer(kf, GROUP_VM, "CPUs", (int)c->cpus);
  g_key_file_set_string(kf, GROUP_VM, "Accelerator",
                        tandem_accel_to_string(c->accel));
  g_key_file_set_string(kf, GROUP_VM, "Display",
                        c->display == TANDEM_DISPLAY_NONE ? "none" : "spice");
  g_key_file_set_integer(kf, GROUP_VM, "HotplugPorts", (int)c->hotplug_ports);
  if (c->pixel_memory != TANDEM_VM_DEFAULT_PIXEL_MEMORY) {
    g_autofree char *pix = g_strdup_printf("%" G_GUINT64_FORMAT "M",
                                           c->pixel_memory >> 20);
    g_key_file_set_string(kf, GROUP_VM, "PixelMemory", pix);
  }
  if (c->save_on_stop)
    g_key_file_set_boolean(kf, GROUP_VM, "SaveOnStop", TRUE);
  if (c->network != TANDEM_NETWORK_USER)
    g_key_file_set_string(kf, GROUP_VM, "Network",
                          c->network == TANDEM_NETWORK_NONE ? "none"
                                                            : "restricted");
  if (c->forwards)
    g_key_file_set_string_list(kf, GROUP_VM, "Forward",
                               (const char *const *)c->forwards,
                               g_strv_length(c->forwards));
  set_if(kf, GROUP_BOOT, "Kernel", c->kernel);
  set_if(kf, GROUP_BOOT, "Initrd", c->initrd);
  set_if(kf, GROUP_BOOT, "CommandLine", c->cmdline);
  set_if(kf, GROUP_BOOT, "Image", c->image);
  set_if(kf, GROUP_BOOT, "ImageFormat", c->image_format);
  for (guint i = 0; i < c->disks->len; i++) {
    TandemVmDisk *d = c->disks->pdata[i];
    g_autofree char *group = g_strconcat(DISK_PREFIX, d->name, NULL);
    g_key_file_set_string(kf, group, "Path", d->path);
    g_key_file_set_string(kf, group, "Format", d->format);
    g_key_file_set_boolean(kf, group, "ReadOnly", d->read_only);
  }
  for (guint i = 0; i < c->attachments->len; i++) {
    TandemVmAttachment *a = c->attachments->pdata[i];
    g_autofree char *group = g_strconcat(STORAGE_PREFIX, a->name, NULL);
    g_key_file_set_string(kf, group, "URI", a->uri);
    set_if(kf, group, "Mirror", a->mirror);
    g_key_file_set_string(kf, group, "Bus", a->bus);
    g_key_file_set_boolean(kf, group, "ReadOnly", a->read_only);
    set_if(kf, group, "Serial", a->serial);
    set_if(kf, group, "Port", a->port);
  }
  /* A schedule turned off keeps its Keep and MaxAge for the next time. */
  if (c->snapshot_every) {
    g_autofree char *every = tandem_format_duration(c->snapshot_every);
    g_key_file_set_string(kf, GROUP_SNAPSHOTS, "Every", every);
  }
  if (c->snapshot_every || c->snapshot_max_age ||
      c->snapshot_keep != TANDEM_VM_DEFAULT_SNAPSHOT_KEEP)
    g_key_file_set_integer(kf, GROUP_SNAPSHOTS, "Keep", (int)c->snapshot_keep);
  if (c->snapshot_max_age) {
    g_autofree char *age = tandem_format_duration(c->snapshot_max_age);
    g_key_file_set_string(kf, GROUP_SNAPSHOTS, "MaxAge", age);
  }
  if (c->snapshot_queue) {
    g_autofree char *q = g_strdup_printf("%" G_GUINT64_FORMAT "M",
                                         c->snapshot_queue >> 20);
    g_key_file_set_string(kf, GROUP_SNAPSHOTS, "QueueSize", q);
  }
  if (c->snapshot_compression_set)
    g_key_file_set_integer(kf, GROUP_SNAPSHOTS, "Compression",
                           c->snapshot_compression);
  if (c->snapshot_how != TANDEM_SNAPSHOT_HOW_AUTO)
    g_key_file_set_string(kf, GROUP_SNAPSHOTS, "Method",
                          c->snapshot_how == TANDEM_SNAPSHOT_HOW_LIVE
                              ? "live"
                              : "paused");
  const char *limit_keys[] = {"WindowMemory", "CatalogMemory",
                              "OutputQueue"};
  const guint64 limits[] = {c->limit_window_memory, c->limit_catalog_memory,
                            c->limit_output_queue};
  for (guint i = 0; i < G_N_ELEMENTS(limits); i++)
    if (limits[i]) {
      g_autofree char *v =
          limits[i] % (1u << 20)
              ? g_strdup_printf("%" G_GUINT64_FORMAT, limits[i])
              : g_strdup_printf("%" G_GUINT64_FORMAT "M", limits[i] >> 20);
      g_key_file_set_string(kf, GROUP_LIMITS, limit_keys[i], v);
    }
  return g_key_file_to_data(kf, NULL, NULL);
}

gboolean tandem_vm_config_save(const TandemVmConfig *c, const char *dir,
                               GError **error) {
  g_autofree char *file = g_strdup_printf("%s.conf", c->name);
  g_autofree char *path = g_build_filename(dir, file, NULL);
  g_autofree char *data = tandem_vm_config_to_data(c);
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                "Cannot create %s: %s", dir, g_strerror(errno));
    return FALSE;
  }
  return g_file_set_contents_full(path, data, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT |
                                      G_FILE_SET_CONTENTS_DURABLE,
                                  0600, error);
}
