/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's list of snapshots (tandem-snapshot-manifest.h). */
#include "tandem-snapshot-manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MANIFEST (64u << 20)
#define MAX_CONFIG (64u << 10)
#define MAX_PATH 4096
#define MAX_DISKS 32

static void disk_free(TandemSnapshotDisk *d) {
  g_free(d->name);
  g_free(d->image);
  g_free(d->format);
  g_free(d);
}

TandemSnapshotInfo *tandem_snapshot_info_new(void) {
  TandemSnapshotInfo *i = g_new0(TandemSnapshotInfo, 1);
  i->disks = g_ptr_array_new_with_free_func((GDestroyNotify)disk_free);
  return i;
}

void tandem_snapshot_info_free(TandemSnapshotInfo *i) {
  if (!i)
    return;
  g_free(i->id);
  g_free(i->name);
  g_free(i->method_reason);
  g_free(i->memory_file);
  g_free(i->config);
  g_ptr_array_unref(i->disks);
  g_free(i);
}

TandemSnapshotInfo *tandem_snapshot_info_copy(const TandemSnapshotInfo *s) {
  TandemSnapshotInfo *i = tandem_snapshot_info_new();
  GPtrArray *disks = i->disks;
  *i = *s;
  i->disks = disks;
  i->id = g_strdup(s->id);
  i->name = g_strdup(s->name);
  i->method_reason = g_strdup(s->method_reason);
  i->memory_file = g_strdup(s->memory_file);
  i->config = g_strdup(s->config);
  i->scheduled = s->scheduled;
  i->ignore_shared = s->ignore_shared;
  for (guint k = 0; k < s->disks->len; k++) {
    const TandemSnapshotDisk *d = s->disks->pdata[k];
    TandemSnapshotDisk *c = g_new0(TandemSnapshotDisk, 1);
    c->name = g_strdup(d->name);
    c->image = g_strdup(d->image);
    c->format = g_strdup(d->format);
    g_ptr_array_add(disks, c);
  }
  return i;
}

gboolean tandem_snapshot_id_is_valid(const char *id) {
  if (!id || !*id || *id == '-' || strlen(id) > 64)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

gboolean tandem_snapshot_name_is_valid(const char *name) {
  if (!name || !g_utf8_validate(name, -1, NULL) ||
      g_utf8_strlen(name, -1) > TANDEM_SNAPSHOT_MAX_NAME)
    return FALSE;
  for (const char *p = name; *p; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (g_unichar_iscntrl(c) || g_unichar_type(c) == G_UNICODE_FORMAT)
      return FALSE; /* no line breaks, no bidi overrides */
  }
  return TRUE;
}

void tandem_snapshot_manifest_free(TandemSnapshotManifest *m) {
  if (!m)
    return;
  g_free(m->vm);
  g_free(m->resume);
  g_ptr_array_unref(m->snapshots);
  g_free(m);
}

static TandemSnapshotManifest *manifest_new(const char *vm) {
  TandemSnapshotManifest *m = g_new0(TandemSnapshotManifest, 1);
  m->vm = g_strdup(vm);
  m->snapshots = g_ptr_array_new_with_free_func(
      (GDestroyNotify)tandem_snapshot_info_free);
  return m;
}

/* --- To JSON ------------------------------------------------------------- */

static void add_string(JsonBuilder *b, const char *name, const char *value) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, value ? value : "");
}

static void add_int(JsonBuilder *b, const char *name, gint64 value) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, value);
}

static void info_to_json(JsonBuilder *b, const TandemSnapshotInfo *i) {
  json_builder_begin_object(b);
  add_string(b, "id", i->id);
  add_string(b, "name", i->name);
  add_int(b, "created", i->created);
  add_string(b, "method", tandem_snapshot_method_to_string(i->method));
  add_string(b, "method-reason", i->method_reason);
  add_string(b, "memory-file", i->memory_file);
  add_int(b, "file-bytes", (gint64)i->file_bytes);
  add_int(b, "raw-bytes", (gint64)i->raw_bytes);
  add_int(b, "memory", (gint64)i->memory);
  add_int(b, "crc", i->crc);
  add_int(b, "duration-ms", i->duration_ms);
  add_string(b, "config", i->config);
  json_builder_set_member_name(b, "scheduled");
  json_builder_add_boolean_value(b, i->scheduled);
  json_builder_set_member_name(b, "ignore-shared");
  json_builder_add_boolean_value(b, i->ignore_shared);
  json_builder_set_member_name(b, "disks");
  json_builder_begin_array(b);
  for (guint k = 0; k < i->disks->len; k++) {
    const TandemSnapshotDisk *d = i->disks->pdata[k];
    json_builder_begin_object(b);
    add_string(b, "name", d->name);
    add_string(b, "image", d->image);
    add_string(b, "format", d->format);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
}

char *tandem_snapshot_manifest_to_json(const TandemSnapshotManifest *m) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_int(b, "version", 1);
  add_string(b, "vm", m->vm);
  if (m->resume)
    add_string(b, "resume", m->resume);
  json_builder_set_member_name(b, "snapshots");
  json_builder_begin_array(b);
  for (guint k = 0; k < m->snapshots->len; k++)
    info_to_json(b, m->snapshots->pdata[k]);
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, root);
  json_generator_set_pretty(gen, TRUE);
  return json_generator_to_data(gen, NULL);
}

/* --- From JSON (untrusted) ---------------------------------------------- */

static const char *get_string(JsonObject *o, const char *name, gsize max) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
      json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  const char *s = json_node_get_string(n);
  return s && strlen(s) <= max && g_utf8_validate(s, -1, NULL) ? s : NULL;
}

static gboolean get_int(JsonObject *o, const char *name, gint64 min,
                        gint64 *out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
      json_node_get_value_type(n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int(n);
  return *out >= min;
}

static TandemSnapshotDisk *parse_disk(JsonNode *node) {
  if (!JSON_NODE_HOLDS_OBJECT(node))
    return NULL;
  JsonObject *o = json_node_get_object(node);
  const char *name = get_string(o, "name", 64);
  const char *image = get_string(o, "image", MAX_PATH);
  const char *format = get_string(o, "format", 16);
  if (!name || !image || !format || !g_path_is_absolute(image) ||
      (!g_str_equal(format, "qcow2") && !g_str_equal(format, "raw")))
    return NULL;
  TandemSnapshotDisk *d = g_new0(TandemSnapshotDisk, 1);
  d->name = g_strdup(name);
  d->image = g_strdup(image);
  d->format = g_strdup(format);
  return d;
}

static TandemSnapshotInfo *parse_info(JsonNode *node) {
  if (!JSON_NODE_HOLDS_OBJECT(node))
    return NULL;
  JsonObject *o = json_node_get_object(node);
  const char *id = get_string(o, "id", 64);
  const char *name = get_string(o, "name", 1024);
  const char *method = get_string(o, "method", 16);
  const char *reason = get_string(o, "method-reason", 1024);
  const char *file = get_string(o, "memory-file", 128);
  const char *config = get_string(o, "config", MAX_CONFIG);
  gint64 created, fbytes, rbytes, memory, crc, duration;
  JsonNode *disks = json_object_get_member(o, "disks");
  if (!tandem_snapshot_id_is_valid(id) || !name ||
      !tandem_snapshot_name_is_valid(name) || !method || !reason || !file ||
      !config || tandem_snapshot_method_from_string(method) < 0 ||
      !g_str_has_prefix(file, id) || strchr(file, '/') ||
      !get_int(o, "created", 0, &created) ||
      !get_int(o, "file-bytes", 0, &fbytes) ||
      !get_int(o, "raw-bytes", 0, &rbytes) ||
      !get_int(o, "memory", 0, &memory) || !get_int(o, "crc", 0, &crc) ||
      crc > G_MAXUINT32 || !get_int(o, "duration-ms", 0, &duration) ||
      !disks || !JSON_NODE_HOLDS_ARRAY(disks) ||
      json_array_get_length(json_node_get_array(disks)) > MAX_DISKS)
    return NULL;
  g_autoptr(TandemSnapshotInfo) i = tandem_snapshot_info_new();
  static const char *const flags[] = {"scheduled", "ignore-shared"};
  gboolean *fields[] = {&i->scheduled, &i->ignore_shared};
  for (guint k = 0; k < G_N_ELEMENTS(flags); k++) {
    JsonNode *flag = json_object_get_member(o, flags[k]);
    if (!flag)
      continue; /* older manifests lack them: false */
    if (!JSON_NODE_HOLDS_VALUE(flag) ||
        json_node_get_value_type(flag) != G_TYPE_BOOLEAN)
      return NULL;
    *fields[k] = json_node_get_boolean(flag);
  }
  JsonArray *a = json_node_get_array(disks);
  for (guint k = 0; k < json_array_get_length(a); k++) {
    TandemSnapshotDisk *d = parse_disk(json_array_get_element(a, k));
    if (!d)
      return NULL;
    g_ptr_array_add(i->disks, d);
  }
  i->id = g_strdup(id);
  i->name = g_strdup(name);
  i->method = (TandemSnapshotMethod)tandem_snapshot_method_from_string(method);
  i->method_reason = g_strdup(reason);
  i->memory_file = g_strdup(file);
  i->config = g_strdup(config);
  i->created = created;
  i->file_bytes = (guint64)fbytes;
  i->raw_bytes = (guint64)rbytes;
  i->memory = (guint64)memory;
  i->crc = (guint32)crc;
  i->duration_ms = duration;
  return g_steal_pointer(&i);
}

TandemSnapshotManifest *tandem_snapshot_manifest_parse(const char *json,
                                                       gsize len,
                                                       const char *vm,
                                                       GError **error) {
  g_autoptr(JsonParser) p = json_parser_new();
  JsonNode *root;
  JsonObject *o;
  JsonNode *list;
  gint64 version;
  const char *owner;
  if (len > MAX_MANIFEST ||
      !json_parser_load_from_data(p, json, (gssize)len, NULL) ||
      !(root = json_parser_get_root(p)) || !JSON_NODE_HOLDS_OBJECT(root) ||
      !(o = json_node_get_object(root)) ||
      !get_int(o, "version", 1, &version) || version != 1 ||
      !(owner = get_string(o, "vm", 64)) ||
      !(list = json_object_get_member(o, "snapshots")) ||
      !JSON_NODE_HOLDS_ARRAY(list) ||
      json_array_get_length(json_node_get_array(list)) >
          TANDEM_SNAPSHOT_MAX_SNAPSHOTS) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "The list of snapshots of “%s” is damaged", vm);
    return NULL;
  }
  if (!g_str_equal(owner, vm)) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_WRONG_VM,
                "The list of snapshots in the folder of “%s” is that of "
                "“%s”",
                vm, owner);
    return NULL;
  }
  g_autoptr(TandemSnapshotManifest) m = manifest_new(vm);
  JsonNode *resume = json_object_get_member(o, "resume");
  JsonArray *a = json_node_get_array(list);
  for (guint k = 0; k < json_array_get_length(a); k++) {
    TandemSnapshotInfo *i = parse_info(json_array_get_element(a, k));
    if (!i || tandem_snapshot_manifest_find(m, i->id)) {
      tandem_snapshot_info_free(i);
      g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                  "The list of snapshots of “%s” is damaged (entry %u)", vm,
                  k + 1);
      return NULL;
    }
    g_ptr_array_add(m->snapshots, i);
  }
  if (resume) { /* must name a listed snapshot */
    const char *id = get_string(o, "resume", 64);
    if (!id || !tandem_snapshot_manifest_find(m, id)) {
      g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                  "The list of snapshots of “%s” is damaged (its resume "
                  "point)",
                  vm);
      return NULL;
    }
    m->resume = g_strdup(id);
  }
  return g_steal_pointer(&m);
}

TandemSnapshotManifest *tandem_snapshot_manifest_load(const char *dir,
                                                      const char *vm,
                                                      GError **error) {
  g_autofree char *path = g_build_filename(dir, TANDEM_SNAPSHOT_MANIFEST,
                                           NULL);
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr(GError) e = NULL;
  if (!g_file_get_contents(path, &text, &len, &e)) {
    if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return manifest_new(vm);
    g_propagate_error(error, g_steal_pointer(&e));
    return NULL;
  }
  return tandem_snapshot_manifest_parse(text, len, vm, error);
}

gboolean tandem_write_file_durably(const char *path, const char *contents,
                                   gsize len, GError **error) {
  g_autofree char *tmp = g_strconcat(path, ".new", NULL);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  gboolean ok = fd >= 0;
  for (gsize done = 0; ok && done < len;) {
    ssize_t n = write(fd, contents + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    done += ok ? (gsize)n : 0;
  }
  ok = ok && fsync(fd) == 0;
  int e = errno;
  if (fd >= 0)
    close(fd);
  if (ok && rename(tmp, path) != 0) {
    e = errno;
    ok = FALSE;
  }
  if (!ok) {
    g_unlink(tmp);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot write %s: %s", path, g_strerror(e));
    return FALSE;
  }
  g_autofree char *dir = g_path_get_dirname(path);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) { /* the rename itself on disk */
    fsync(dfd);
    close(dfd);
  }
  return TRUE;
}

gboolean tandem_snapshot_manifest_save(const TandemSnapshotManifest *m,
                                       const char *dir, GError **error) {
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot create %s: %s", dir, g_strerror(e));
    return FALSE;
  }
  g_autofree char *json = tandem_snapshot_manifest_to_json(m);
  g_autofree char *path = g_build_filename(dir, TANDEM_SNAPSHOT_MANIFEST,
                                           NULL);
  return tandem_write_file_durably(path, json, strlen(json), error);
}

TandemSnapshotInfo *tandem_snapshot_manifest_find(
    const TandemSnapshotManifest *m, const char *id) {
  for (guint k = 0; id && k < m->snapshots->len; k++) {
    TandemSnapshotInfo *i = m->snapshots->pdata[k];
    if (g_str_equal(i->id, id))
      return i;
  }
  return NULL;
}

void tandem_snapshot_manifest_add(TandemSnapshotManifest *m,
                                  TandemSnapshotInfo *info) {
  g_ptr_array_add(m->snapshots, info);
}

gboolean tandem_snapshot_manifest_remove(TandemSnapshotManifest *m,
                                         const char *id) {
  TandemSnapshotInfo *i = tandem_snapshot_manifest_find(m, id);
  if (i && g_strcmp0(m->resume, id) == 0)
    g_clear_pointer(&m->resume, g_free);
  return i && g_ptr_array_remove(m->snapshots, i);
}

char *tandem_snapshot_manifest_new_id(const TandemSnapshotManifest *m,
                                      gint64 now) {
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(now);
  g_autofree char *base = g_date_time_format(t, "%Y%m%d-%H%M%S");
  char *id = g_strdup(base);
  for (int n = 2; tandem_snapshot_manifest_find(m, id); n++) {
    g_free(id);
    id = g_strdup_printf("%s-%d", base, n);
  }
  return id;
}

GPtrArray *tandem_snapshot_retention_victims(GPtrArray *snapshots,
                                             guint keep, guint64 max_age,
                                             gint64 now) {
  GPtrArray *victims = g_ptr_array_new_with_free_func(g_free);
  guint scheduled = 0;

  for (guint i = 0; i < snapshots->len; i++)
    scheduled += ((TandemSnapshotInfo *)snapshots->pdata[i])->scheduled != 0;
  for (guint i = 0; i < snapshots->len; i++) {
    const TandemSnapshotInfo *s = snapshots->pdata[i];
    gboolean too_old;

    if (!s->scheduled)
      continue;
    /* A clock set back leaves "created" in the future: not too old. */
    too_old = max_age && now > s->created &&
              (guint64)(now - s->created) > max_age;
    if (scheduled > keep || too_old) {
      g_ptr_array_add(victims, g_strdup(s->id));
      scheduled--;
    }
  }
  return victims;
}
