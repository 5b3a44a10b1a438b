// The C half of the thredis VFS: the sqlite3_vfs and sqlite3_io_methods
// tables SQLite calls, answering in C whatever needs no shared state (temp
// files, existence probes, sync, snapshot size and header reads) and
// forwarding the rest to exported Go functions. Each cgo crossing costs
// 40-80 ns, so the per-transaction probes SQLite makes are kept on this side.
#include <stdlib.h>
#include <string.h>
#include "shim.h"
#include "_cgo_export.h"

/* thVfs is our sqlite3_vfs subclass. dflt is the process's default VFS
** ("unix") at registration time, used for the services a VFS must provide
** that have nothing to do with files: randomness, time, sleep. */
typedef struct thVfs {
  sqlite3_vfs base;
  sqlite3_vfs *dflt;
} thVfs;

static sqlite3_vfs *thDefault(sqlite3_vfs *pVfs) { return ((thVfs *)pVfs)->dflt; }

/* ---- temporary files in memory --------------------------------------- */

static int memClose(sqlite3_file *pFile) {
  thFile *f = (thFile *)pFile;
  free(f->mem);
  f->mem = 0;
  f->memSize = f->memAlloc = 0;
  return TH_SQLITE_OK;
}

static int memRead(sqlite3_file *pFile, void *zBuf, int iAmt, sqlite3_int64 iOfst) {
  thFile *f = (thFile *)pFile;
  if (iOfst >= f->memSize) {
    memset(zBuf, 0, iAmt);
    return TH_SQLITE_IOERR_SHORT_READ;
  }
  if (iOfst + iAmt > f->memSize) {
    int n = (int)(f->memSize - iOfst);
    memcpy(zBuf, f->mem + iOfst, n);
    memset((char *)zBuf + n, 0, iAmt - n);
    return TH_SQLITE_IOERR_SHORT_READ;
  }
  memcpy(zBuf, f->mem + iOfst, iAmt);
  return TH_SQLITE_OK;
}

static int memGrow(thFile *f, sqlite3_int64 n) {
  if (n <= f->memAlloc) return TH_SQLITE_OK;
  sqlite3_int64 a = f->memAlloc ? f->memAlloc : 4096;
  while (a < n) a *= 2;
  unsigned char *p = realloc(f->mem, (size_t)a);
  if (!p) return TH_SQLITE_NOMEM;
  f->mem = p;
  f->memAlloc = a;
  return TH_SQLITE_OK;
}

static int memWrite(sqlite3_file *pFile, const void *z, int iAmt, sqlite3_int64 iOfst) {
  thFile *f = (thFile *)pFile;
  sqlite3_int64 end = iOfst + iAmt;
  if (memGrow(f, end) != TH_SQLITE_OK) return TH_SQLITE_NOMEM;
  if (iOfst > f->memSize) memset(f->mem + f->memSize, 0, (size_t)(iOfst - f->memSize));
  memcpy(f->mem + iOfst, z, iAmt);
  if (end > f->memSize) f->memSize = end;
  return TH_SQLITE_OK;
}

static int memTruncate(sqlite3_file *pFile, sqlite3_int64 size) {
  thFile *f = (thFile *)pFile;
  if (size < f->memSize) f->memSize = size;
  return TH_SQLITE_OK;
}

static int memSync(sqlite3_file *pFile, int flags) { return TH_SQLITE_OK; }

static int memFileSize(sqlite3_file *pFile, sqlite3_int64 *pSize) {
  *pSize = ((thFile *)pFile)->memSize;
  return TH_SQLITE_OK;
}

static int memLock(sqlite3_file *pFile, int level) { return TH_SQLITE_OK; }
static int memCheckReserved(sqlite3_file *pFile, int *pResOut) { *pResOut = 0; return TH_SQLITE_OK; }
static int memFileControl(sqlite3_file *pFile, int op, void *pArg) { return TH_SQLITE_NOTFOUND; }
static int memSectorSize(sqlite3_file *pFile) { return 512; }
static int memDevice(sqlite3_file *pFile) {
  return TH_IOCAP_SAFE_APPEND | TH_IOCAP_SEQUENTIAL | TH_IOCAP_POWERSAFE_OVERWRITE;
}

static const sqlite3_io_methods memMethods = {
  1, memClose, memRead, memWrite, memTruncate, memSync, memFileSize,
  memLock, memLock, memCheckReserved, memFileControl, memSectorSize, memDevice,
};

/* ---- the database file: fast paths in C, the rest in Go -------------- */

/* thRetry recognises SQLite's busy-handler retry of a refused write: the VFS
** returns BUSY for RESERVED (Go sets retryArmed), SQLite unlocks to NONE and
** at once calls xSleep on the same thread. The unlock leaves the handle
** here; any other call on this thread clears it; xSleep consumes it, tells
** Go the connection is retrying (its next SHARED lock then waits for the
** writer lock itself) and skips the sleep. */
static __thread uintptr_t thRetry;

static int dbClose(sqlite3_file *pFile) {
  thFile *f = (thFile *)pFile;
  thRetry = 0;
  int rc = thgoClose(f->h);
  f->h = 0;
  return rc;
}

static int dbRead(sqlite3_file *pFile, void *zBuf, int iAmt, sqlite3_int64 iOfst) {
  thFile *f = (thFile *)pFile;
  thRetry = 0;
  /* SQLite reads 16 bytes at offset 24 at the start of every read
  ** transaction to learn whether its page cache is still valid. */
  if (f->fast && f->size >= 100 && iOfst + iAmt <= 100) {
    memcpy(zBuf, f->hdr + iOfst, iAmt);
    return TH_SQLITE_OK;
  }
  return thgoRead(f->h, zBuf, iAmt, iOfst);
}

static int dbWrite(sqlite3_file *pFile, const void *z, int iAmt, sqlite3_int64 iOfst) {
  thRetry = 0;
  return thgoWrite(((thFile *)pFile)->h, (void *)z, iAmt, iOfst);
}

static int dbTruncate(sqlite3_file *pFile, sqlite3_int64 size) {
  thRetry = 0;
  return thgoTruncate(((thFile *)pFile)->h, size);
}

/* Durability is the business of the store (AOF, replication), not of the
** SQLite file, so there is nothing to sync. */
static int dbSync(sqlite3_file *pFile, int flags) { return TH_SQLITE_OK; }

static int dbFileSize(sqlite3_file *pFile, sqlite3_int64 *pSize) {
  thFile *f = (thFile *)pFile;
  thRetry = 0;
  if (f->fast) {
    *pSize = f->size;
    return TH_SQLITE_OK;
  }
  return thgoFileSize(f->h, pSize);
}

static int dbLock(sqlite3_file *pFile, int level) {
  thFile *f = (thFile *)pFile;
  thRetry = 0;
  if (level <= f->lock) return TH_SQLITE_OK;
  /* Start a read transaction on the idle-pinned snapshot if it is still
  ** the newest version. Should a commit land right after the check, the
  ** snapshot is merely as old as that of a reader that started just
  ** before it: still pinned, still consistent. */
  if (level == TH_LOCK_SHARED && f->lock == TH_LOCK_NONE &&
      __atomic_load_n(&f->db->seq, __ATOMIC_SEQ_CST) == f->snapSeq) {
    int idle = TH_PIN_IDLE;
    if (__atomic_compare_exchange_n(&f->pin, &idle, TH_PIN_ACTIVE, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
      f->lock = TH_LOCK_SHARED;
      f->fast = 1;
      return TH_SQLITE_OK;
    }
  }
  /* SHARED -> RESERVED: take the writer lock if it is free and the
  ** snapshot is the newest version (re-checked once the lock is ours, as
  ** an external change may publish without it). Go adopts the write
  ** transaction at its next call (writerC); anything harder - waiting,
  ** refusing, a stale snapshot - is Go's. */
  if (level == TH_LOCK_RESERVED && f->lock == TH_LOCK_SHARED && !f->goUnlock &&
      !f->readOnly && __atomic_load_n(&f->db->seq, __ATOMIC_SEQ_CST) == f->snapSeq) {
    int32_t free = 0;
    if (__atomic_compare_exchange_n(&f->db->writer, &free, 1, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
      f->writerC = 1;
      f->goUnlock = 1;
      if (__atomic_load_n(&f->db->seq, __ATOMIC_SEQ_CST) == f->snapSeq) {
        f->lock = TH_LOCK_RESERVED;
        f->fast = 0;
        return TH_SQLITE_OK;
      }
    }
  }
  /* RESERVED -> EXCLUSIVE (SQLite is about to write pages) needs no Go
  ** call unless an external change superseded the snapshot. */
  if (level == TH_LOCK_EXCLUSIVE && f->lock >= TH_LOCK_RESERVED &&
      __atomic_load_n(&f->db->seq, __ATOMIC_ACQUIRE) == f->snapSeq) {
    f->lock = TH_LOCK_EXCLUSIVE;
    return TH_SQLITE_OK;
  }
  return thgoLock(f->h, level);
}

static int dbUnlock(sqlite3_file *pFile, int level) {
  thFile *f = (thFile *)pFile;
  if (level >= f->lock) {
    thRetry = 0;
    return TH_SQLITE_OK;
  }
  /* After a successful commit Go has already released the writer lock and
  ** pinned the new version; dropping to SHARED is bookkeeping. */
  if (level == TH_LOCK_SHARED && f->txnDone) {
    thRetry = 0;
    f->txnDone = 0;
    f->lock = TH_LOCK_SHARED;
    f->fast = 1;
    return TH_SQLITE_OK;
  }
  /* End a read transaction keeping the snapshot pinned (idle) if it is
  ** the newest version. The store/load pair races with a commit's
  ** publish-then-revoke: either we see the new version and take the pin
  ** back, or the committer sees IDLE and revokes it. */
  if (level == TH_LOCK_NONE && f->lock == TH_LOCK_SHARED && !f->goUnlock &&
      !f->retryArmed && __atomic_load_n(&f->pin, __ATOMIC_SEQ_CST) == TH_PIN_ACTIVE &&
      __atomic_load_n(&f->db->seq, __ATOMIC_SEQ_CST) == f->snapSeq) {
    __atomic_store_n(&f->pin, TH_PIN_IDLE, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&f->db->seq, __ATOMIC_SEQ_CST) == f->snapSeq) {
      thRetry = 0;
      f->lock = TH_LOCK_NONE;
      f->fast = 0;
      return TH_SQLITE_OK;
    }
    int idle = TH_PIN_IDLE; /* superseded meanwhile: let Go release it */
    __atomic_compare_exchange_n(&f->pin, &idle, TH_PIN_ACTIVE, 0,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  }
  int rc = thgoUnlock(f->h, level);
  thRetry = (level == TH_LOCK_NONE && f->retryArmed) ? f->h : 0;
  f->retryArmed = 0;
  return rc;
}

static int dbCheckReserved(sqlite3_file *pFile, int *pResOut) {
  thRetry = 0;
  *pResOut = thgoCheckReserved(((thFile *)pFile)->h);
  return TH_SQLITE_OK;
}

/* Pragmas the VFS has an opinion about; all others are left to SQLite
** without a trip to Go. */
static int thPragmaOfInterest(const char *z) {
  return z && (strcasecmp(z, "journal_mode") == 0 ||
               strcasecmp(z, "locking_mode") == 0 ||
               strcasecmp(z, "page_size") == 0 ||
               strncasecmp(z, "thredis_", 8) == 0);
}

static int dbFileControl(sqlite3_file *pFile, int op, void *pArg) {
  thFile *f = (thFile *)pFile;
  thRetry = 0;
  switch (op) {
  case TH_FCNTL_COMMIT_PHASETWO:
    return thgoCommit(f->h);
  case TH_FCNTL_PRAGMA: {
    char **az = (char **)pArg;
    if (!thPragmaOfInterest(az[1])) return TH_SQLITE_NOTFOUND;
    return thgoPragma(f->h, az);
  }
  case TH_FCNTL_HAS_MOVED:
    *(int *)pArg = 0;
    return TH_SQLITE_OK;
  }
  return TH_SQLITE_NOTFOUND;
}

/* With POWERSAFE_OVERWRITE SQLite treats the sector size as 512 and never
** journals neighbouring pages of a page it changes. */
static int dbSectorSize(sqlite3_file *pFile) { return 512; }
static int dbDevice(sqlite3_file *pFile) {
  return TH_IOCAP_SAFE_APPEND | TH_IOCAP_SEQUENTIAL | TH_IOCAP_POWERSAFE_OVERWRITE;
}

static const sqlite3_io_methods dbMethods = {
  1, dbClose, dbRead, dbWrite, dbTruncate, dbSync, dbFileSize,
  dbLock, dbUnlock, dbCheckReserved, dbFileControl, dbSectorSize, dbDevice,
};

/* ---- the VFS object --------------------------------------------------- */

/* Count of in-memory temp files opened, for tests and statistics. */
static uint64_t thTempFiles;
uint64_t th_temp_files(void) { return __atomic_load_n(&thTempFiles, __ATOMIC_RELAXED); }

static int thOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *pFile, int flags, int *pOutFlags) {
  thFile *f = (thFile *)pFile;
  memset(f, 0, sizeof(*f));
  if (flags & TH_OPEN_MAIN_DB) {
    if (!zName) return TH_SQLITE_CANTOPEN;
    int rc = thgoOpen((uintptr_t)pVfs->pAppData, (char *)zName, flags, f);
    if (rc != TH_SQLITE_OK) return rc;
    f->base.pMethods = &dbMethods;
  } else if (zName == 0 || (flags & TH_OPEN_DELETEONCLOSE)) {
    /* Statement journals, sorter spills, temp and transient databases:
    ** anonymous scratch files that die with their handle. Keep them in
    ** memory so that SQL never touches the disk. */
    f->base.pMethods = &memMethods;
    __atomic_add_fetch(&thTempFiles, 1, __ATOMIC_RELAXED);
  } else {
    /* A named journal, WAL or super-journal would be a real file. The
    ** database runs with journal_mode=MEMORY, so SQLite only asks for one
    ** if that mode was changed behind our back; refuse. */
    return TH_SQLITE_CANTOPEN;
  }
  if (pOutFlags) *pOutFlags = flags;
  return TH_SQLITE_OK;
}

static int thDelete(sqlite3_vfs *pVfs, const char *zName, int syncDir) {
  return TH_SQLITE_OK;
}

/* No journal, WAL or other side file ever exists, so SQLite never finds a
** hot journal to roll back. */
static int thAccess(sqlite3_vfs *pVfs, const char *zName, int flags, int *pResOut) {
  *pResOut = 0;
  return TH_SQLITE_OK;
}

/* Names are database handles, not paths: keep them as they are. */
static int thFullPathname(sqlite3_vfs *pVfs, const char *zName, int nOut, char *zOut) {
  size_t n = strlen(zName);
  if ((int)n + 1 > nOut) return TH_SQLITE_CANTOPEN;
  memcpy(zOut, zName, n + 1);
  return TH_SQLITE_OK;
}

/* Loading extensions would reach the host filesystem; the VFS refuses. */
static void *thDlOpen(sqlite3_vfs *pVfs, const char *zPath) { return 0; }
static void thDlError(sqlite3_vfs *pVfs, int nByte, char *zErrMsg) {
  const char *msg = "loadable extensions are disabled";
  if (nByte <= 0) return;
  strncpy(zErrMsg, msg, (size_t)nByte - 1);
  zErrMsg[nByte - 1] = 0;
}
static void (*thDlSym(sqlite3_vfs *pVfs, void *p, const char *zSym))(void) { return 0; }
static void thDlClose(sqlite3_vfs *pVfs, void *p) {}

static int thRandomness(sqlite3_vfs *pVfs, int nByte, char *zOut) {
  sqlite3_vfs *d = thDefault(pVfs);
  return d->xRandomness(d, nByte, zOut);
}
static int thSleep(sqlite3_vfs *pVfs, int us) {
  uintptr_t h = thRetry;
  thRetry = 0;
  if (h && thgoRetry(h)) return us;
  sqlite3_vfs *d = thDefault(pVfs);
  return d->xSleep(d, us);
}
static int thCurrentTime(sqlite3_vfs *pVfs, double *p) {
  sqlite3_vfs *d = thDefault(pVfs);
  return d->xCurrentTime(d, p);
}
static int thGetLastError(sqlite3_vfs *pVfs, int n, char *z) {
  sqlite3_vfs *d = thDefault(pVfs);
  return d->xGetLastError ? d->xGetLastError(d, n, z) : 0;
}
static int thCurrentTimeInt64(sqlite3_vfs *pVfs, sqlite3_int64 *p) {
  sqlite3_vfs *d = thDefault(pVfs);
  if (d->iVersion >= 2 && d->xCurrentTimeInt64) return d->xCurrentTimeInt64(d, p);
  double r;
  int rc = d->xCurrentTime(d, &r);
  *p = (sqlite3_int64)(r * 86400000.0);
  return rc;
}

int th_register(const char *zName, uintptr_t h) {
  sqlite3_vfs *dflt = sqlite3_vfs_find(0);
  if (!dflt) return TH_SQLITE_ERROR;
  if (sqlite3_vfs_find(zName)) return TH_SQLITE_ERROR;
  thVfs *v = calloc(1, sizeof(thVfs));
  if (!v) return TH_SQLITE_NOMEM;
  v->dflt = dflt;
  v->base.iVersion = 2;
  v->base.szOsFile = sizeof(thFile);
  v->base.mxPathname = 1024;
  v->base.zName = strdup(zName);
  v->base.pAppData = (void *)h;
  v->base.xOpen = thOpen;
  v->base.xDelete = thDelete;
  v->base.xAccess = thAccess;
  v->base.xFullPathname = thFullPathname;
  v->base.xDlOpen = thDlOpen;
  v->base.xDlError = thDlError;
  v->base.xDlSym = thDlSym;
  v->base.xDlClose = thDlClose;
  v->base.xRandomness = thRandomness;
  v->base.xSleep = thSleep;
  v->base.xCurrentTime = thCurrentTime;
  v->base.xGetLastError = thGetLastError;
  v->base.xCurrentTimeInt64 = thCurrentTimeInt64;
  return sqlite3_vfs_register(&v->base, 0);
}

char *th_mprintf(const char *z) { return sqlite3_mprintf("%s", z); }
