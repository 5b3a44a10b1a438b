// Declarations shared by the C half (bridge.c) and the Go half of package
// sqlite, a thin binding to the SQLite C API.
//
// Like vfs/shim.h, this header deliberately does not include sqlite3.h. The
// SQLite library is compiled into the binary by github.com/mattn/go-sqlite3,
// which does not export its header to other packages, and vendoring a second
// copy of the header (or of SQLite) would let the two drift apart. Instead we
// declare the opaque handle types, the few structs a virtual table needs
// (sqlite3_module, sqlite3_vtab, sqlite3_vtab_cursor, sqlite3_index_info), the
// functions we call and the constants we use. All of them are part of
// SQLite's documented, frozen ABI, so these declarations stay valid for every
// SQLite 3.x new enough to have them (3.37+, for SQLITE_OPEN_EXRESCODE and
// sqlite3_changes64). The symbols are resolved at link time against mattn's
// compiled amalgamation.
//
// Our own C symbols carry the sqb_ prefix (sqbGo for exported Go
// functions): C symbols share one namespace across the whole binary, and
// package vfs's shim already uses th_.
#ifndef THREDIS_SQLITE_BRIDGE_H
#define THREDIS_SQLITE_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

typedef long long int sqlite3_int64;
typedef unsigned long long int sqlite3_uint64;
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3_value sqlite3_value;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_module sqlite3_module;
typedef struct sqlite3_vtab sqlite3_vtab;
typedef struct sqlite3_vtab_cursor sqlite3_vtab_cursor;
typedef struct sqlite3_index_info sqlite3_index_info;
typedef void (*sqlite3_destructor_type)(void *);

/* ---- virtual table objects (https://sqlite.org/c3ref/module.html) ------ */

struct sqlite3_module {
  int iVersion;
  int (*xCreate)(sqlite3 *, void *pAux, int argc, const char *const *argv,
                 sqlite3_vtab **ppVTab, char **);
  int (*xConnect)(sqlite3 *, void *pAux, int argc, const char *const *argv,
                  sqlite3_vtab **ppVTab, char **);
  int (*xBestIndex)(sqlite3_vtab *pVTab, sqlite3_index_info *);
  int (*xDisconnect)(sqlite3_vtab *pVTab);
  int (*xDestroy)(sqlite3_vtab *pVTab);
  int (*xOpen)(sqlite3_vtab *pVTab, sqlite3_vtab_cursor **ppCursor);
  int (*xClose)(sqlite3_vtab_cursor *);
  int (*xFilter)(sqlite3_vtab_cursor *, int idxNum, const char *idxStr,
                 int argc, sqlite3_value **argv);
  int (*xNext)(sqlite3_vtab_cursor *);
  int (*xEof)(sqlite3_vtab_cursor *);
  int (*xColumn)(sqlite3_vtab_cursor *, sqlite3_context *, int);
  int (*xRowid)(sqlite3_vtab_cursor *, sqlite3_int64 *pRowid);
  int (*xUpdate)(sqlite3_vtab *, int, sqlite3_value **, sqlite3_int64 *);
  int (*xBegin)(sqlite3_vtab *pVTab);
  int (*xSync)(sqlite3_vtab *pVTab);
  int (*xCommit)(sqlite3_vtab *pVTab);
  int (*xRollback)(sqlite3_vtab *pVTab);
  int (*xFindFunction)(sqlite3_vtab *pVtab, int nArg, const char *zName,
                       void (**pxFunc)(sqlite3_context *, int, sqlite3_value **),
                       void **ppArg);
  int (*xRename)(sqlite3_vtab *pVtab, const char *zNew);
  /* Version 2+ methods follow in SQLite's definition; we register version 1
  ** modules, so SQLite never reads past this point. */
};

struct sqlite3_vtab {
  const sqlite3_module *pModule;
  int nRef;
  char *zErrMsg;
};

struct sqlite3_vtab_cursor {
  sqlite3_vtab *pVtab;
};

struct sqlite3_index_info {
  int nConstraint;
  struct sqlite3_index_constraint {
    int iColumn;
    unsigned char op;
    unsigned char usable;
    int iTermOffset;
  } *aConstraint;
  int nOrderBy;
  struct sqlite3_index_orderby {
    int iColumn;
    unsigned char desc;
  } *aOrderBy;
  struct sqlite3_index_constraint_usage {
    int argvIndex;
    unsigned char omit;
  } *aConstraintUsage;
  int idxNum;
  char *idxStr;
  int needToFreeIdxStr;
  int orderByConsumed;
  double estimatedCost;
  sqlite3_int64 estimatedRows; /* 3.8.2+ */
  int idxFlags;                /* 3.9.0+ */
  sqlite3_uint64 colUsed;      /* 3.10.0+ */
};

/* ---- functions of the SQLite library linked in by mattn/go-sqlite3 ------ */

int sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags, const char *zVfs);
int sqlite3_close_v2(sqlite3 *);
int sqlite3_exec(sqlite3 *, const char *sql, int (*callback)(void *, int, char **, char **),
                 void *, char **errmsg);
void sqlite3_free(void *);
void *sqlite3_malloc(int);
char *sqlite3_mprintf(const char *, ...);
const char *sqlite3_errmsg(sqlite3 *);
const char *sqlite3_errstr(int);
int sqlite3_extended_errcode(sqlite3 *db);
int sqlite3_extended_result_codes(sqlite3 *, int onoff);
int sqlite3_limit(sqlite3 *, int id, int newVal);
int sqlite3_db_config(sqlite3 *, int op, ...);
void sqlite3_progress_handler(sqlite3 *, int, int (*)(void *), void *);
void sqlite3_interrupt(sqlite3 *);
int sqlite3_set_authorizer(sqlite3 *,
                           int (*xAuth)(void *, int, const char *, const char *,
                                        const char *, const char *),
                           void *pUserData);
sqlite3_int64 sqlite3_changes64(sqlite3 *);
sqlite3_int64 sqlite3_total_changes64(sqlite3 *);
int sqlite3_stmt_status(sqlite3_stmt *, int op, int resetFlg);
sqlite3_int64 sqlite3_last_insert_rowid(sqlite3 *);
int sqlite3_get_autocommit(sqlite3 *);
sqlite3_stmt *sqlite3_next_stmt(sqlite3 *pDb, sqlite3_stmt *pStmt);

int sqlite3_prepare_v3(sqlite3 *db, const char *zSql, int nByte, unsigned int prepFlags,
                       sqlite3_stmt **ppStmt, const char **pzTail);
int sqlite3_finalize(sqlite3_stmt *pStmt);
int sqlite3_reset(sqlite3_stmt *pStmt);
int sqlite3_clear_bindings(sqlite3_stmt *);
int sqlite3_stmt_readonly(sqlite3_stmt *pStmt);
const char *sqlite3_sql(sqlite3_stmt *pStmt);
int sqlite3_bind_parameter_count(sqlite3_stmt *);
int sqlite3_bind_int64(sqlite3_stmt *, int, sqlite3_int64);
int sqlite3_bind_double(sqlite3_stmt *, int, double);
int sqlite3_bind_null(sqlite3_stmt *, int);
int sqlite3_bind_text(sqlite3_stmt *, int, const char *, int, void (*)(void *));
int sqlite3_bind_blob(sqlite3_stmt *, int, const void *, int n, void (*)(void *));
int sqlite3_step(sqlite3_stmt *);
int sqlite3_column_count(sqlite3_stmt *pStmt);
const char *sqlite3_column_name(sqlite3_stmt *, int N);
const char *sqlite3_column_decltype(sqlite3_stmt *, int);
int sqlite3_column_type(sqlite3_stmt *, int iCol);
sqlite3_int64 sqlite3_column_int64(sqlite3_stmt *, int iCol);
double sqlite3_column_double(sqlite3_stmt *, int iCol);
const unsigned char *sqlite3_column_text(sqlite3_stmt *, int iCol);
const void *sqlite3_column_blob(sqlite3_stmt *, int iCol);
int sqlite3_column_bytes(sqlite3_stmt *, int iCol);

int sqlite3_create_function_v2(sqlite3 *db, const char *zFunctionName, int nArg, int eTextRep,
                               void *pApp,
                               void (*xFunc)(sqlite3_context *, int, sqlite3_value **),
                               void (*xStep)(sqlite3_context *, int, sqlite3_value **),
                               void (*xFinal)(sqlite3_context *), void (*xDestroy)(void *));
void *sqlite3_user_data(sqlite3_context *);
int sqlite3_value_type(sqlite3_value *);
sqlite3_int64 sqlite3_value_int64(sqlite3_value *);
double sqlite3_value_double(sqlite3_value *);
const unsigned char *sqlite3_value_text(sqlite3_value *);
const void *sqlite3_value_blob(sqlite3_value *);
int sqlite3_value_bytes(sqlite3_value *);
void sqlite3_result_int64(sqlite3_context *, sqlite3_int64);
void sqlite3_result_double(sqlite3_context *, double);
void sqlite3_result_null(sqlite3_context *);
void sqlite3_result_text(sqlite3_context *, const char *, int, void (*)(void *));
void sqlite3_result_blob(sqlite3_context *, const void *, int, void (*)(void *));
void sqlite3_result_error(sqlite3_context *, const char *, int);
void sqlite3_result_error_nomem(sqlite3_context *);

int sqlite3_create_module_v2(sqlite3 *db, const char *zName, const sqlite3_module *p,
                             void *pClientData, void (*xDestroy)(void *));
int sqlite3_declare_vtab(sqlite3 *, const char *zSQL);

/* ---- constants (https://sqlite.org/c3ref/constlist.html) --------------- */

#define SQB_SQLITE_OK         0
#define SQB_SQLITE_ERROR      1
#define SQB_SQLITE_NOMEM      7
#define SQB_SQLITE_TOOBIG    18
#define SQB_SQLITE_MISUSE    21
#define SQB_SQLITE_AUTH      23
#define SQB_SQLITE_ROW      100
#define SQB_SQLITE_DONE     101

#define SQB_SQLITE_INTEGER 1
#define SQB_SQLITE_FLOAT   2
#define SQB_SQLITE_TEXT    3
#define SQB_SQLITE_BLOB    4
#define SQB_SQLITE_NULL    5

#define SQB_OPEN_READWRITE 0x00000002
#define SQB_OPEN_CREATE    0x00000004
#define SQB_OPEN_URI       0x00000040
#define SQB_OPEN_NOMUTEX   0x00008000
#define SQB_OPEN_EXRESCODE 0x02000000

#define SQB_UTF8          1
#define SQB_DETERMINISTIC 0x000000800

/* Authorizer return codes and the action codes we inspect. */
#define SQB_AUTH_OK    0
#define SQB_AUTH_DENY  1
#define SQB_AUTH_PRAGMA   19
#define SQB_AUTH_ATTACH   24
#define SQB_AUTH_DETACH   25
#define SQB_AUTH_FUNCTION 31

#define SQB_TRANSIENT ((sqlite3_destructor_type)-1)

/* ---- our objects -------------------------------------------------------- */

/* sqbConn is the C-side state of a connection. The progress handler and the
** authorizer read it on every call, so everything they need lives here and
** neither ever crosses into Go. Go reads and writes the plain fields
** directly (no cgo call); all of them are only touched by the goroutine that
** is using the connection. */
typedef struct sqbConn {
  sqlite3 *db;
  sqlite3_int64 deadline; /* CLOCK_MONOTONIC ns at which to interrupt; 0 none */
  int deadlineHit;        /* the progress handler interrupted a statement */
  sqlite3_int64 longAt;   /* CLOCK_MONOTONIC ns at which sqb_run's statement counts as long; 0 none */
  int longFired;          /* sqbGoLongStatement was called for the running statement */
  int trusted;            /* authorizer allows everything */
  const char *denial;     /* static reason of the last denial, or NULL */
  char *buf;              /* AppendRow output buffer (malloc) */
  size_t bufCap;
} sqbConn;

/* sqbPrep is sqb_prepare's result, returned by value so that no Go variable
** has to escape to the heap for SQLite to write into it. */
typedef struct sqbPrep {
  sqlite3_stmt *st;
  int rc;
  int tail; /* offset of the unparsed rest in the input */
} sqbPrep;

/* sqbBytes is a pointer+length pair returned by value. */
typedef struct sqbBytes {
  const char *p;
  int n;
  int type;
} sqbBytes;

/* sqbVal is one function argument, or one virtual table cell. For TEXT and
** BLOB p/n describe the bytes (p may be NULL when n == 0). */
typedef struct sqbVal {
  int type;
  int n;
  sqlite3_int64 i;
  double f;
  const char *p;
} sqbVal;

/* sqbRow is one materialized virtual table row. */
typedef struct sqbRow {
  sqbVal *v;
  sqlite3_int64 n;
} sqbRow;

/* sqbVtab and sqbCursor are our sqlite3_vtab and sqlite3_vtab_cursor
** subclasses. h is the cgo.Handle of the Go VTable. A cursor holds the rows
** of the last xFilter in one malloc'd block (mem), so xNext, xEof, xColumn
** and xRowid run in C. */
typedef struct sqbVtab {
  sqlite3_vtab base;
  uintptr_t h;
} sqbVtab;

typedef struct sqbCursor {
  sqlite3_vtab_cursor base;
  void *mem;
  sqbRow *rows;
  sqlite3_int64 nRow;
  sqlite3_int64 iRow;
} sqbCursor;

sqbConn *sqb_open(const char *uri, int flags, int *rc);
int sqb_close(sqbConn *c);
void sqb_enable_sandbox(sqbConn *c);
void sqb_set_deadline(sqbConn *c, sqlite3_int64 d);
int sqb_exec(sqbConn *c, const char *sql);
sqbPrep sqb_prepare(sqbConn *c, const char *sql, int n);
int sqb_db_config_int(sqbConn *c, int op, int v);
int sqb_bind_text(sqlite3_stmt *st, int i, const char *p, int n);
int sqb_bind_blob(sqlite3_stmt *st, int i, const char *p, int n);
sqbBytes sqb_column_text(sqlite3_stmt *st, int i);
sqbBytes sqb_column_bytes(sqlite3_stmt *st, int i);
sqlite3_int64 sqb_append_row(sqbConn *c, sqlite3_stmt *st, int resp3);
int sqlite3_config(int, ...);
#define SQB_CONFIG_MEMSTATUS 9
int sqb_memstatus_off(void);
extern sqlite3_int64 sqb_long_ns; /* see SetLongStatementHook; 0: off */
#define SQB_RUN_TOO_BIG (-2)
#define SQB_RUN_NOMEM (-3)
#define SQB_STMTSTATUS_REPREPARE 5
/* sqbRun is sqb_run's result, returned by value (no Go variable escapes). */
typedef struct sqbRun {
  int rc;
  int reprepares;
  int longFired;
  sqlite3_int64 len;
  sqlite3_int64 rows;
  sqlite3_int64 changes;
} sqbRun;
sqbRun sqb_run(sqbConn *c, sqlite3_stmt *st, int resp3, sqlite3_int64 limit, sqlite3_int64 deadlineNs);
int sqb_create_function(sqbConn *c, const char *name, int nArg, int flags, uintptr_t h);
void sqb_result_text(sqlite3_context *ctx, const char *p, int n);
void sqb_result_blob(sqlite3_context *ctx, const char *p, int n);
void sqb_result_error(sqlite3_context *ctx, const char *p, int n);
int sqb_create_module(sqbConn *c, const char *name, uintptr_t h);
char *sqb_mprintf(const char *z);
void sqb_vtab_set_error(sqlite3_vtab *v, const char *z);

#endif
