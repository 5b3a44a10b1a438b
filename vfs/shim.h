// Declarations shared by the C shim (shim.c) and the Go side of the thredis
// SQLite VFS.
//
// We deliberately do not include sqlite3.h. The SQLite library itself is
// compiled into the binary by github.com/mattn/go-sqlite3, which does not
// export its header to other packages, and vendoring a second copy of the
// header would let the two drift apart. Instead we declare the handful of
// objects a VFS needs: sqlite3_vfs, sqlite3_file and sqlite3_io_methods, a
// few functions and the constants below. All of them are part of SQLite's
// documented, frozen ABI ("the VFS object ... new fields may be appended in
// future versions"), so these declarations stay valid for every SQLite 3.x.
#ifndef THREDIS_VFS_SHIM_H
#define THREDIS_VFS_SHIM_H

#include <stdint.h>

typedef long long int sqlite3_int64;
typedef struct sqlite3_file sqlite3_file;
typedef struct sqlite3_io_methods sqlite3_io_methods;
typedef struct sqlite3_vfs sqlite3_vfs;
typedef void (*sqlite3_syscall_ptr)(void);

struct sqlite3_file {
  const struct sqlite3_io_methods *pMethods;
};

struct sqlite3_io_methods {
  int iVersion;
  int (*xClose)(sqlite3_file*);
  int (*xRead)(sqlite3_file*, void*, int iAmt, sqlite3_int64 iOfst);
  int (*xWrite)(sqlite3_file*, const void*, int iAmt, sqlite3_int64 iOfst);
  int (*xTruncate)(sqlite3_file*, sqlite3_int64 size);
  int (*xSync)(sqlite3_file*, int flags);
  int (*xFileSize)(sqlite3_file*, sqlite3_int64 *pSize);
  int (*xLock)(sqlite3_file*, int);
  int (*xUnlock)(sqlite3_file*, int);
  int (*xCheckReservedLock)(sqlite3_file*, int *pResOut);
  int (*xFileControl)(sqlite3_file*, int op, void *pArg);
  int (*xSectorSize)(sqlite3_file*);
  int (*xDeviceCharacteristics)(sqlite3_file*);
  /* Version 2 (shared memory, for WAL) and 3 (memory mapping) methods
  ** follow in SQLite's definition; we register version 1 objects, so SQLite
  ** never reads past this point. */
};

struct sqlite3_vfs {
  int iVersion;
  int szOsFile;
  int mxPathname;
  sqlite3_vfs *pNext;
  const char *zName;
  void *pAppData;
  int (*xOpen)(sqlite3_vfs*, const char *zName, sqlite3_file*, int flags, int *pOutFlags);
  int (*xDelete)(sqlite3_vfs*, const char *zName, int syncDir);
  int (*xAccess)(sqlite3_vfs*, const char *zName, int flags, int *pResOut);
  int (*xFullPathname)(sqlite3_vfs*, const char *zName, int nOut, char *zOut);
  void *(*xDlOpen)(sqlite3_vfs*, const char *zFilename);
  void (*xDlError)(sqlite3_vfs*, int nByte, char *zErrMsg);
  void (*(*xDlSym)(sqlite3_vfs*,void*, const char *zSymbol))(void);
  void (*xDlClose)(sqlite3_vfs*, void*);
  int (*xRandomness)(sqlite3_vfs*, int nByte, char *zOut);
  int (*xSleep)(sqlite3_vfs*, int microseconds);
  int (*xCurrentTime)(sqlite3_vfs*, double*);
  int (*xGetLastError)(sqlite3_vfs*, int, char *);
  /* version 2 */
  int (*xCurrentTimeInt64)(sqlite3_vfs*, sqlite3_int64*);
  /* version 3 */
  int (*xSetSystemCall)(sqlite3_vfs*, const char *zName, sqlite3_syscall_ptr);
  sqlite3_syscall_ptr (*xGetSystemCall)(sqlite3_vfs*, const char *zName);
  const char *(*xNextSystemCall)(sqlite3_vfs*, const char *zName);
};

/* Functions provided by the SQLite library linked in by mattn/go-sqlite3. */
int sqlite3_vfs_register(sqlite3_vfs*, int makeDflt);
sqlite3_vfs *sqlite3_vfs_find(const char *zVfsName);
char *sqlite3_mprintf(const char*, ...);

/* Result codes (https://sqlite.org/rescode.html). */
#define TH_SQLITE_OK            0
#define TH_SQLITE_ERROR         1
#define TH_SQLITE_BUSY          5
#define TH_SQLITE_NOMEM         7
#define TH_SQLITE_READONLY      8
#define TH_SQLITE_IOERR        10
#define TH_SQLITE_NOTFOUND     12
#define TH_SQLITE_CANTOPEN     14
#define TH_SQLITE_PROTOCOL     15
#define TH_SQLITE_IOERR_READ        (TH_SQLITE_IOERR | (1<<8))
#define TH_SQLITE_IOERR_SHORT_READ  (TH_SQLITE_IOERR | (2<<8))
#define TH_SQLITE_IOERR_WRITE       (TH_SQLITE_IOERR | (3<<8))
#define TH_SQLITE_IOERR_TRUNCATE    (TH_SQLITE_IOERR | (6<<8))
#define TH_SQLITE_IOERR_LOCK        (TH_SQLITE_IOERR | (15<<8))
#define TH_SQLITE_IOERR_COMMIT_ATOMIC (TH_SQLITE_IOERR | (30<<8))
#define TH_SQLITE_BUSY_SNAPSHOT     (TH_SQLITE_BUSY | (2<<8))

/* Open flags. */
#define TH_OPEN_READONLY        0x00000001
#define TH_OPEN_READWRITE       0x00000002
#define TH_OPEN_CREATE          0x00000004
#define TH_OPEN_DELETEONCLOSE   0x00000008
#define TH_OPEN_MAIN_DB         0x00000100
#define TH_OPEN_TEMP_DB         0x00000200
#define TH_OPEN_TRANSIENT_DB    0x00000400
#define TH_OPEN_MAIN_JOURNAL    0x00000800
#define TH_OPEN_TEMP_JOURNAL    0x00001000
#define TH_OPEN_SUBJOURNAL      0x00002000
#define TH_OPEN_SUPER_JOURNAL   0x00004000
#define TH_OPEN_WAL             0x00080000

/* Lock levels. */
#define TH_LOCK_NONE      0
#define TH_LOCK_SHARED    1
#define TH_LOCK_RESERVED  2
#define TH_LOCK_PENDING   3
#define TH_LOCK_EXCLUSIVE 4

/* thFile.pin: whether the connection holds a pin on version snapSeq.
** ACTIVE: inside a read transaction. IDLE: between transactions the
** connection keeps the newest version pinned, so that if nothing commits
** meanwhile its next transaction starts in C without a Go call; a commit
** revokes idle pins of the version it supersedes (IDLE -> NONE). */
#define TH_PIN_NONE   0
#define TH_PIN_ACTIVE 1
#define TH_PIN_IDLE   2

/* File-control opcodes we act on. */
#define TH_FCNTL_PRAGMA           14
#define TH_FCNTL_HAS_MOVED        20
#define TH_FCNTL_COMMIT_PHASETWO  22

/* Device characteristics. */
#define TH_IOCAP_SAFE_APPEND             0x00000200
#define TH_IOCAP_SEQUENTIAL              0x00000400
#define TH_IOCAP_POWERSAFE_OVERWRITE     0x00001000

/* thFile is our sqlite3_file subclass. One struct serves two kinds of file:
**
**  - the main database file of a connection (h != 0): every operation that
**    needs shared state goes to Go through the handle h. While the
**    connection only reads (it holds SHARED and no writer lock), Go copies
**    the pinned snapshot's size and the first 100 bytes of page 1 here so
**    that SQLite's per-transaction probes (file size, the change counter at
**    offset 24) are answered in C without a cgo crossing.
**  - a temporary file (h == 0): statement journals, sorter spill files,
**    temp databases. It lives in malloc'd memory and never reaches Go or the
**    disk.
*/
/* thDb is the part of a database's state the C shim reads: the newest
** version's sequence number and the writer lock (0 free, 1 taken). Both
** are only accessed atomically, by C and by Go. */
typedef struct thDb {
  uint64_t seq;
  int32_t writer;
  int32_t pad;
} thDb;

typedef struct thFile {
  sqlite3_file base;
  uintptr_t h;          /* index in the Go connection table; 0 for temp files */
  int lock;             /* current lock level; owned by Go, read by C */
  int fast;             /* 1: size and hdr describe the pinned snapshot */
  int retryArmed;       /* Go refused a write lock with BUSY */
  int txnDone;          /* Go committed the write transaction already */
  int goUnlock;         /* unlocking needs Go (the connection holds the writer lock) */
  int writerC;          /* C took the writer lock; Go has not adopted it yet */
  int readOnly;         /* opened read-only: never take the writer lock */
  int pin;              /* TH_PIN_*: state of the pin on snapSeq (atomic) */
  thDb *db;             /* the database's shared state */
  uint64_t snapSeq;     /* the version this connection pinned */
  uint64_t hdrSeq;      /* the version hdr was copied from */
  sqlite3_int64 size;
  unsigned char hdr[100];
  /* memory temp file */
  unsigned char *mem;
  sqlite3_int64 memSize;
  sqlite3_int64 memAlloc;
} thFile;

/* th_register creates and registers a VFS named zName whose pAppData is the
** Go handle h. Returns a SQLite result code. */
int th_register(const char *zName, uintptr_t h);

/* th_temp_files returns how many in-memory temp files were opened. */
uint64_t th_temp_files(void);

/* th_mprintf copies z into memory from sqlite3_malloc (as SQLite requires for
** strings it will free), because cgo cannot call variadic functions. */
char *th_mprintf(const char *z);

#endif
