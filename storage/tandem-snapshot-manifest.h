/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's list of snapshots: $XDG_DATA_HOME/tandem/vms/NAME/snapshots/
 * manifest.json. A snapshot is listed only once its memory file is whole
 * and on disk; the manifest itself is replaced atomically (written beside,
 * fsynced, renamed), so a crash at any point leaves the previous list, and
 * every snapshot on it restorable.
 *
 * The file is read back as untrusted (it sits in the user's data
 * directory): ids and paths are checked, sizes bounded. */
#pragma once

#include <glib.h>

#include "tandem-snapshot-file.h"

G_BEGIN_DECLS

#define TANDEM_SNAPSHOT_MAX_SNAPSHOTS 1000
#define TANDEM_SNAPSHOT_MAX_NAME 64     /* characters of a user's label */
#define TANDEM_SNAPSHOT_MANIFEST "manifest.json"

/* One disk's state at the snapshot's instant: an image no one writes to
 * again (the overlay taken then sits on top of it). */
typedef struct {
  char *name;    /* the VM's disk name ("home") */
  char *image;   /* absolute path */
  char *format;  /* "qcow2" or "raw" */
} TandemSnapshotDisk;

typedef struct {
  char *id;           /* [0-9A-Za-z_-]{1,64}: a file name part */
  char *name;         /* the user's label (any text, never a path) */
  gint64 created;     /* unix time, seconds */
  TandemSnapshotMethod method;
  char *method_reason;/* why that method ("userfaultfd refused: ...") */
  char *memory_file;  /* file name in the snapshots directory */
  guint64 file_bytes, raw_bytes, memory;
  guint32 crc;        /* the memory file's trailer CRC */
  gint64 duration_ms; /* from the request to the file on disk */
  char *config;       /* the VM's configuration then (key-file text) */
  gboolean scheduled; /* taken by the schedule: its retention applies */
  /* Taken with QEMU's x-ignore-shared: memory shared with the host (the
   * window pixels) is not in it, and the restore must say so too. */
  gboolean ignore_shared;
  GPtrArray *disks;   /* TandemSnapshotDisk */
} TandemSnapshotInfo;

void tandem_snapshot_info_free(TandemSnapshotInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemSnapshotInfo, tandem_snapshot_info_free)
TandemSnapshotInfo *tandem_snapshot_info_new(void);
TandemSnapshotInfo *tandem_snapshot_info_copy(const TandemSnapshotInfo *i);

/* Ids: 1..64 of [0-9A-Za-z_-], not starting with '-'. */
gboolean tandem_snapshot_id_is_valid(const char *id);
/* Labels: valid UTF-8, 0..64 characters, no control characters. */
gboolean tandem_snapshot_name_is_valid(const char *name);

typedef struct {
  char *vm;
  GPtrArray *snapshots; /* TandemSnapshotInfo, oldest first */
  char *resume;         /* the snapshot the next start resumes, or NULL
                         * (the VM was stopped with its state saved) */
} TandemSnapshotManifest;

void tandem_snapshot_manifest_free(TandemSnapshotManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemSnapshotManifest,
                              tandem_snapshot_manifest_free)

/* $dir/manifest.json; a missing file is an empty list. */
TandemSnapshotManifest *tandem_snapshot_manifest_load(const char *dir,
                                                      const char *vm,
                                                      GError **error);
/* Parses manifest text (untrusted). */
TandemSnapshotManifest *tandem_snapshot_manifest_parse(const char *json,
                                                       gsize len,
                                                       const char *vm,
                                                       GError **error);
char *tandem_snapshot_manifest_to_json(const TandemSnapshotManifest *m);
/* Replaces $dir/manifest.json atomically and durably. */
gboolean tandem_snapshot_manifest_save(const TandemSnapshotManifest *m,
                                       const char *dir, GError **error);

TandemSnapshotInfo *tandem_snapshot_manifest_find(
    const TandemSnapshotManifest *m, const char *id);

/* A schedule's retention: of @snapshots (TandemSnapshotInfo, oldest
 * first), the ids (transfer full) of the scheduled ones to delete at unix
 * time @now: the oldest beyond the newest @keep, and those older than
 * @max_age seconds (0: no limit). Snapshots not taken by the schedule are
 * never among them. */
GPtrArray *tandem_snapshot_retention_victims(GPtrArray *snapshots,
                                             guint keep, guint64 max_age,
                                             gint64 now);
/* Takes @info. */
void tandem_snapshot_manifest_add(TandemSnapshotManifest *m,
                                  TandemSnapshotInfo *info);
gboolean tandem_snapshot_manifest_remove(TandemSnapshotManifest *m,
                                         const char *id);

/* A new id from @now (unix seconds) not yet in @m: "20261203-054512",
 * with "-2", "-3", ... when taken. */
char *tandem_snapshot_manifest_new_id(const TandemSnapshotManifest *m,
                                      gint64 now);

/* Writes @contents to @path durably: a temporary file beside it, fsync,
 * rename, fsync of the directory. */
gboolean tandem_write_file_durably(const char *path, const char *contents,
                                   gsize len, GError **error);

G_END_DECLS
