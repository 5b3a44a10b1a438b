// The C half of package sqlite. Everything that runs per VM step, per
// authorization check, per row or per virtual table cell lives here, so it
// never crosses into Go (a cgo crossing costs tens of nanoseconds, and a
// C-to-Go callback much more): the deadline progress handler, the sandbox
// authorizer, RESP row serialization, and the virtual table cursor. Go is
// called only for user functions, once per call, and for virtual tables
// on connect, disconnect and once per xFilter.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "bridge.h"
#include "_cgo_export.h"

static sqlite3_int64 sqb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (sqlite3_int64)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- deadline ---------------------------------------------------------- */

/* sqb_progress is the progress handler, called by SQLite every
** SQB_PROGRESS_OPS virtual machine instructions. A non-zero return makes the
** running statement fail with SQLITE_INTERRUPT. */
#define SQB_PROGRESS_OPS 1000

sqlite3_int64 sqb_long_ns = 0;

/* sqb_memstatus_off turns SQLite's memory statistics off. They take a global
** mutex on every sqlite3_malloc and sqlite3_free (about 6% of the server's
** CPU on small write transactions) and nothing reads them. Only possible
** before SQLite initializes; it returns SQLITE_MISUSE after. */
int sqb_memstatus_off(void) { return sqlite3_config(SQB_CONFIG_MEMSTATUS, 0); }

static int sqb_progress(void *p) {
  sqbConn *c = (sqbConn *)p;
  sqlite3_int64 now;
  if (c->deadline == 0 && (c->longAt == 0 || c->longFired)) return 0;
  now = sqb_now();
  if (c->longAt != 0 && !c->longFired && now >= c->longAt) {
    c->longFired = 1;
    sqbGoLongStatement();
  }
  if (c->deadline != 0 && now >= c->deadline) {
    c->deadlineHit = 1;
    return 1;
  }
  return 0;
}

void sqb_set_deadline(sqbConn *c, sqlite3_int64 d) {
  sqlite3_int64 now = sqb_now();
  sqlite3_int64 t;
  if (d > 0 && now > INT64_MAX - d) {
    t = INT64_MAX; /* far future: never */
  } else {
    t = now + d;
  }
  if (t == 0) t = 1; /* 0 means "no deadline" */
  c->deadline = t;
  c->deadlineHit = 0;
}

/* ---- sandbox authorizer ------------------------------------------------ */

/* sqb_arg_is reports whether the pragma argument z, with one level of SQL
** quoting removed ('x', "x", `x`, [x]), equals want case-insensitively.
** SQLite normally dequotes pragma arguments itself; we strip again so that
** the check does not depend on that. */
static int sqb_arg_is(const char *z, const char *want) {
  size_t n = strlen(z);
  size_t wn = strlen(want);
  if (n >= 2) {
    char q = z[0], e = z[n - 1];
    if ((q == '\'' && e == '\'') || (q == '"' && e == '"') || (q == '`' && e == '`') ||
        (q == '[' && e == ']')) {
      z++;
      n -= 2;
    }
  }
  return n == wn && strncasecmp(z, want, n) == 0;
}

static int sqb_deny(sqbConn *c, const char *why) {
  c->denial = why;
  return SQB_AUTH_DENY;
}

/* sqb_auth is the sandbox authorizer (https://sqlite.org/c3ref/set_authorizer.html).
** It runs while statements are compiled (and recompiled after a schema
** change), once per table, column, function and pragma the statement uses. */
static int sqb_auth(void *p, int action, const char *a1, const char *a2, const char *a3,
                   const char *a4) {
  sqbConn *c = (sqbConn *)p;
  (void)a3;
  (void)a4;
  if (c->trusted) return SQB_AUTH_OK;
  switch (action) {
    case SQB_AUTH_ATTACH:
      /* A client could open arbitrary files, or a second thredis database
      ** behind the server's back. a1 is the file name when it is a string
      ** literal. The empty name is a private temporary database, which
      ** touches nothing shared: plain VACUUM attaches one internally to
      ** build its copy, so it must stay allowed (VACUUM INTO names a file
      ** and is refused here). */
      if (a1 && a1[0] == 0) return SQB_AUTH_OK;
      return sqb_deny(c, "ATTACH is not allowed");
    case SQB_AUTH_DETACH:
      return sqb_deny(c, "DETACH is not allowed");
    case SQB_AUTH_FUNCTION:
      /* a1 is NULL, a2 the function name. load_extension is also off in
      ** the library's own config, but say so clearly. */
      if (a2 && strcasecmp(a2, "load_extension") == 0)
        return sqb_deny(c, "load_extension() is not allowed");
      return SQB_AUTH_OK;
    case SQB_AUTH_PRAGMA:
      /* a1 is the pragma name, a2 its argument (NULL when reading). Reading
      ** any of these is harmless; setting them is not. */
      if (!a1 || !a2) return SQB_AUTH_OK;
      if (strcasecmp(a1, "writable_schema") == 0)
        return sqb_deny(c, "PRAGMA writable_schema is not allowed");
      if (strcasecmp(a1, "temp_store_directory") == 0)
        return sqb_deny(c, "PRAGMA temp_store_directory is not allowed");
      if (strcasecmp(a1, "data_store_directory") == 0)
        return sqb_deny(c, "PRAGMA data_store_directory is not allowed");
      if (strcasecmp(a1, "journal_mode") == 0 && !sqb_arg_is(a2, "memory"))
        return sqb_deny(c, "PRAGMA journal_mode cannot be changed (the database keeps its journal in memory)");
      if (strcasecmp(a1, "locking_mode") == 0 && !sqb_arg_is(a2, "normal"))
        return sqb_deny(c, "PRAGMA locking_mode cannot be changed");
      return SQB_AUTH_OK;
  }
  return SQB_AUTH_OK;
}

void sqb_enable_sandbox(sqbConn *c) { sqlite3_set_authorizer(c->db, sqb_auth, c); }

/* ---- connections --------------------------------------------------------- */

sqbConn *sqb_open(const char *uri, int flags, int *rc) {
  sqbConn *c = calloc(1, sizeof *c);
  if (!c) {
    *rc = SQB_SQLITE_NOMEM;
    return 0;
  }
  *rc = sqlite3_open_v2(uri, &c->db, flags, 0);
  if (*rc == SQB_SQLITE_OK) {
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_progress_handler(c->db, SQB_PROGRESS_OPS, sqb_progress, c);
  }
  /* On failure the caller reads the message from c->db, then sqb_close. */
  return c;
}

/* sqb_close finalizes every statement still open on the connection, closes
** it and frees c. SQLite calls the destructors of functions and modules
** (which delete their Go handles) from inside sqlite3_close_v2. */
int sqb_close(sqbConn *c) {
  int rc = SQB_SQLITE_OK;
  if (c->db) {
    sqlite3_stmt *st;
    while ((st = sqlite3_next_stmt(c->db, 0)) != 0) sqlite3_finalize(st);
    rc = sqlite3_close_v2(c->db);
  }
  free(c->buf);
  free(c);
  return rc;
}

/* sqb_auth_rc makes a failure the sandbox caused report SQLITE_AUTH. SQLite
** does so itself for most denials, but a denied function call fails with
** SQLITE_ERROR ("not authorized to use function: ..."). */
static int sqb_auth_rc(sqbConn *c, int rc) {
  if (rc != SQB_SQLITE_OK && c->denial) return SQB_SQLITE_AUTH;
  return rc;
}

int sqb_exec(sqbConn *c, const char *sql) {
  c->denial = 0;
  return sqb_auth_rc(c, sqlite3_exec(c->db, sql, 0, 0, 0));
}

/* sqb_prepare compiles the first statement of sql[0:n]. Input that holds
** only whitespace, comments or empty statements (";") yields st == NULL and
** rc == OK with tail == n; we loop here, rather than in Go, so that a
** leading ";" costs no extra cgo call. */
sqbPrep sqb_prepare(sqbConn *c, const char *sql, int n) {
  sqbPrep r;
  const char *z = sql;
  const char *end = sql + n;
  c->denial = 0;
  r.st = 0;
  r.rc = SQB_SQLITE_OK;
  while (z < end) {
    const char *tail = 0;
    r.rc = sqlite3_prepare_v3(c->db, z, (int)(end - z), 0, &r.st, &tail);
    if (tail == 0 || tail <= z || tail > end) tail = end; /* no progress: stop */
    z = tail;
    if (r.rc != SQB_SQLITE_OK || r.st != 0) break;
  }
  if (r.rc == SQB_SQLITE_OK && r.st == 0) z = end;
  r.rc = sqb_auth_rc(c, r.rc);
  r.tail = (int)(z - sql);
  return r;
}

/* sqlite3_db_config is variadic, which cgo cannot call. */
int sqb_db_config_int(sqbConn *c, int op, int v) {
  int out = 0;
  return sqlite3_db_config(c->db, op, v, &out);
}

/* ---- statements ---------------------------------------------------------- */

/* A NULL pointer would bind SQL NULL; an empty Go slice has no pointer, but
** means the empty string/blob, so substitute a static empty one. */
int sqb_bind_text(sqlite3_stmt *st, int i, const char *p, int n) {
  return sqlite3_bind_text(st, i, n ? p : "", n, SQB_TRANSIENT);
}

int sqb_bind_blob(sqlite3_stmt *st, int i, const char *p, int n) {
  return sqlite3_bind_blob(st, i, n ? p : "", n, SQB_TRANSIENT);
}

sqbBytes sqb_column_text(sqlite3_stmt *st, int i) {
  sqbBytes b;
  b.type = sqlite3_column_type(st, i);
  b.p = (const char *)sqlite3_column_text(st, i);
  b.n = sqlite3_column_bytes(st, i);
  return b;
}

sqbBytes sqb_column_bytes(sqlite3_stmt *st, int i) {
  sqbBytes b;
  b.type = sqlite3_column_type(st, i);
  if (b.type == SQB_SQLITE_TEXT) {
    b.p = (const char *)sqlite3_column_text(st, i);
  } else {
    b.p = (const char *)sqlite3_column_blob(st, i);
  }
  b.n = sqlite3_column_bytes(st, i);
  return b;
}

/* ---- RESP row serialization --------------------------------------------- */

/* Buffers larger than this are not kept between calls: one huge row should
** not pin megabytes per connection forever. */
#define SQB_BUF_KEEP (1u << 20)

static int sqb_reserve(sqbConn *c, size_t len, size_t more) {
  size_t need = len + more;
  size_t nc;
  char *nb;
  if (need <= c->bufCap) return 0;
  nc = c->bufCap ? c->bufCap : 512;
  while (nc < need) nc *= 2;
  nb = realloc(c->buf, nc);
  if (!nb) return -1;
  c->buf = nb;
  c->bufCap = nc;
  return 0;
}

/* sqb_put_uint writes v in decimal at p and returns the length. */
static int sqb_put_uint(char *p, sqlite3_uint64 v) {
  char tmp[24];
  int n = 0, i;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
  return n;
}

static int sqb_put_int(char *p, sqlite3_int64 v) {
  if (v < 0) {
    p[0] = '-';
    return 1 + sqb_put_uint(p + 1, (sqlite3_uint64)0 - (sqlite3_uint64)v);
  }
  return sqb_put_uint(p, (sqlite3_uint64)v);
}

static sqlite3_int64 sqb_row_at(sqbConn *c, sqlite3_stmt *st, int resp3, size_t n);

/* sqb_append_row writes the current row of st into c->buf as a RESP array and
** returns its length, or -1 when out of memory. Each column's type is read
** before anything that could convert its value. */
sqlite3_int64 sqb_append_row(sqbConn *c, sqlite3_stmt *st, int resp3) {
  if (c->bufCap > SQB_BUF_KEEP) {
    free(c->buf);
    c->buf = 0;
    c->bufCap = 0;
  }
  return sqb_row_at(c, st, resp3, 0);
}

/* sqb_row_at appends the current row of st to c->buf at offset n and returns
** the new length, or -1 when out of memory. */
static sqlite3_int64 sqb_row_at(sqbConn *c, sqlite3_stmt *st, int resp3, size_t n) {
  int ncol = sqlite3_column_count(st);
  int i;
  char *b;
  if (sqb_reserve(c, n, 32)) return -1;
  b = c->buf;
  b[n++] = '*';
  n += sqb_put_int(b + n, ncol);
  b[n++] = '\r';
  b[n++] = '\n';
  for (i = 0; i < ncol; i++) {
    int t = sqlite3_column_type(st, i);
    const char *p = 0;
    int len = 0;
    switch (t) {
      case SQB_SQLITE_INTEGER: {
        sqlite3_int64 v = sqlite3_column_int64(st, i);
        if (sqb_reserve(c, n, 32)) return -1;
        b = c->buf;
        b[n++] = ':';
        n += sqb_put_int(b + n, v);
        b[n++] = '\r';
        b[n++] = '\n';
        continue;
      }
      case SQB_SQLITE_NULL:
        if (sqb_reserve(c, n, 8)) return -1;
        b = c->buf;
        if (resp3) {
          memcpy(b + n, "_\r\n", 3);
          n += 3;
        } else {
          memcpy(b + n, "$-1\r\n", 5);
          n += 5;
        }
        continue;
      case SQB_SQLITE_FLOAT: {
        /* SQLite's own rendering (sqlite3_column_text of a REAL value,
        ** e.g. 3.0 -> "3.0", 1e300 -> "1.0e+300"). Converting a REAL to
        ** text keeps its numeric type, and we have already read it. */
        double d = sqlite3_column_double(st, i);
        if (resp3 && !isfinite(d)) {
          const char *s = isnan(d) ? ",nan\r\n" : (d > 0 ? ",inf\r\n" : ",-inf\r\n");
          size_t sl = strlen(s);
          if (sqb_reserve(c, n, sl)) return -1;
          memcpy(c->buf + n, s, sl);
          n += sl;
          continue;
        }
        p = (const char *)sqlite3_column_text(st, i);
        len = sqlite3_column_bytes(st, i);
        if (!p) return -1; /* only on OOM */
        if (sqb_reserve(c, n, (size_t)len + 32)) return -1;
        b = c->buf;
        if (resp3) {
          b[n++] = ',';
        } else {
          b[n++] = '$';
          n += sqb_put_int(b + n, len);
          b[n++] = '\r';
          b[n++] = '\n';
        }
        memcpy(b + n, p, (size_t)len);
        n += (size_t)len;
        b[n++] = '\r';
        b[n++] = '\n';
        continue;
      }
      case SQB_SQLITE_TEXT:
        p = (const char *)sqlite3_column_text(st, i);
        len = sqlite3_column_bytes(st, i);
        break;
      default: /* BLOB */
        p = (const char *)sqlite3_column_blob(st, i);
        len = sqlite3_column_bytes(st, i);
        break;
    }
    if (sqb_reserve(c, n, (size_t)len + 32)) return -1;
    b = c->buf;
    b[n++] = '$';
    n += sqb_put_int(b + n, len);
    b[n++] = '\r';
    b[n++] = '\n';
    if (len) memcpy(b + n, p, (size_t)len);
    n += (size_t)len;
    b[n++] = '\r';
    b[n++] = '\n';
  }
  return (sqlite3_int64)n;
}

/* sqb_run steps st to completion in one call: the rows (when it has result
** columns) go to c->buf as RESP arrays, *nrows counts them, *changes is the
** number of rows the statement changed (0 when it changed none, even if
** sqlite3_changes still reports an earlier statement's count, as after DDL),
** *reprepares is SQLite's recompile counter for st (the column metadata may
** have changed when it moves). It stops early with SQB_RUN_TOO_BIG once
** the rows exceed limit bytes (limit > 0) and with SQB_RUN_NOMEM on
** allocation failure. The statement is reset before returning, except
** after an error, whose code it returns (the caller reads the message,
** then resets). deadlineNs > 0 arms the progress-handler deadline. */
sqbRun sqb_run(sqbConn *c, sqlite3_stmt *st, int resp3, sqlite3_int64 limit, sqlite3_int64 deadlineNs) {
  sqbRun r;
  sqlite3_int64 before = sqlite3_total_changes64(c->db);
  sqlite3_int64 n = 0, rows = 0;
  int ncol = sqlite3_column_count(st);
  int rc;
  if (deadlineNs > 0) {
    sqb_set_deadline(c, deadlineNs);
  } else {
    c->deadline = 0;
    c->deadlineHit = 0;
  }
  if (c->bufCap > SQB_BUF_KEEP) {
    free(c->buf);
    c->buf = 0;
    c->bufCap = 0;
  }
  c->longFired = 0;
  c->longAt = sqb_long_ns > 0 ? sqb_now() + sqb_long_ns : 0;
  for (;;) {
    rc = sqlite3_step(st);
    if (rc != SQB_SQLITE_ROW) break;
    if (ncol == 0) continue;
    n = sqb_row_at(c, st, resp3, (size_t)n);
    if (n < 0) {
      rc = SQB_RUN_NOMEM;
      break;
    }
    rows++;
    if (limit > 0 && n > limit) {
      rc = SQB_RUN_TOO_BIG;
      break;
    }
  }
  c->longAt = 0;
  r.longFired = c->longFired;
  r.len = n < 0 ? 0 : n;
  r.rows = rows;
  r.changes = sqlite3_total_changes64(c->db) != before ? sqlite3_changes64(c->db) : 0;
  r.reprepares = sqlite3_stmt_status(st, SQB_STMTSTATUS_REPREPARE, 0);
  if (rc == SQB_SQLITE_DONE) {
    sqlite3_reset(st);
    rc = SQB_SQLITE_OK;
  } else if (rc == SQB_RUN_TOO_BIG || rc == SQB_RUN_NOMEM) {
    sqlite3_reset(st);
  }
  r.rc = rc;
  return r;
}

/* ---- scalar functions ---------------------------------------------------- */

#define SQB_STACK_ARGS 8

static void sqb_xfunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqbVal stackArgs[SQB_STACK_ARGS];
  sqbVal *a = stackArgs;
  int i;
  if (argc > SQB_STACK_ARGS) {
    a = malloc(sizeof(sqbVal) * (size_t)argc);
    if (!a) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  /* Collect the arguments here so Go gets them in one call instead of
  ** making several cgo calls per argument. */
  for (i = 0; i < argc; i++) {
    sqbVal *v = &a[i];
    v->type = sqlite3_value_type(argv[i]);
    v->n = 0;
    v->i = 0;
    v->f = 0;
    v->p = 0;
    switch (v->type) {
      case SQB_SQLITE_INTEGER:
        v->i = sqlite3_value_int64(argv[i]);
        break;
      case SQB_SQLITE_FLOAT:
        v->f = sqlite3_value_double(argv[i]);
        break;
      case SQB_SQLITE_TEXT:
        v->p = (const char *)sqlite3_value_text(argv[i]);
        v->n = sqlite3_value_bytes(argv[i]);
        break;
      case SQB_SQLITE_BLOB:
        v->p = (const char *)sqlite3_value_blob(argv[i]);
        v->n = sqlite3_value_bytes(argv[i]);
        break;
    }
  }
  sqbGoFunc(ctx, (uintptr_t)sqlite3_user_data(ctx), a, argc);
  if (a != stackArgs) free(a);
}

static void sqb_xfunc_destroy(void *p) { sqbGoDeleteHandle((uintptr_t)p); }

int sqb_create_function(sqbConn *c, const char *name, int nArg, int flags, uintptr_t h) {
  return sqlite3_create_function_v2(c->db, name, nArg, SQB_UTF8 | flags, (void *)h, sqb_xfunc, 0, 0,
                                    sqb_xfunc_destroy);
}

void sqb_result_text(sqlite3_context *ctx, const char *p, int n) {
  sqlite3_result_text(ctx, n ? p : "", n, SQB_TRANSIENT);
}

void sqb_result_blob(sqlite3_context *ctx, const char *p, int n) {
  sqlite3_result_blob(ctx, n ? p : "", n, SQB_TRANSIENT);
}

void sqb_result_error(sqlite3_context *ctx, const char *p, int n) {
  sqlite3_result_error(ctx, n ? p : "", n);
}

/* ---- virtual tables ------------------------------------------------------ */

char *sqb_mprintf(const char *z) { return sqlite3_mprintf("%s", z); }

void sqb_vtab_set_error(sqlite3_vtab *v, const char *z) {
  sqlite3_free(v->zErrMsg);
  v->zErrMsg = sqlite3_mprintf("%s", z);
}

static int sqb_vconnect_common(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                              sqlite3_vtab **ppVTab, char **pzErr) {
  sqbVtab *v = sqlite3_malloc(sizeof *v);
  uintptr_t h;
  if (!v) return SQB_SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  h = sqbGoVtabConnect(db, (uintptr_t)pAux, argc, (char **)argv, pzErr);
  if (h == 0) {
    sqlite3_free(v);
    return SQB_SQLITE_ERROR;
  }
  v->h = h;
  *ppVTab = &v->base;
  return SQB_SQLITE_OK;
}

/* xCreate and xConnect do the same, but must be distinct functions: if they
** were the same pointer SQLite would make every module an eponymous
** virtual table, usable as "SELECT * FROM module" without CREATE. */
static int sqb_vcreate(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVTab, char **pzErr) {
  return sqb_vconnect_common(db, pAux, argc, argv, ppVTab, pzErr);
}

static int sqb_vconnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVTab, char **pzErr) {
  return sqb_vconnect_common(db, pAux, argc, argv, ppVTab, pzErr);
}

static int sqb_vbestindex(sqlite3_vtab *v, sqlite3_index_info *info) {
  (void)v;
  /* Always a full scan: no constraint is used, so SQLite checks them all. */
  info->idxNum = 0;
  info->estimatedCost = 1e9;
  info->estimatedRows = 1000000;
  return SQB_SQLITE_OK;
}

static int sqb_vdisconnect(sqlite3_vtab *pv) {
  sqbVtab *v = (sqbVtab *)pv;
  sqbGoVtabDisconnect(v->h);
  sqlite3_free(v->base.zErrMsg);
  sqlite3_free(v);
  return SQB_SQLITE_OK;
}

static int sqb_vopen(sqlite3_vtab *v, sqlite3_vtab_cursor **ppCursor) {
  sqbCursor *cur = sqlite3_malloc(sizeof *cur);
  (void)v;
  if (!cur) return SQB_SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  *ppCursor = &cur->base;
  return SQB_SQLITE_OK;
}

static int sqb_vclose(sqlite3_vtab_cursor *pc) {
  sqbCursor *cur = (sqbCursor *)pc;
  free(cur->mem);
  sqlite3_free(cur);
  return SQB_SQLITE_OK;
}

static int sqb_vfilter(sqlite3_vtab_cursor *pc, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv) {
  sqbCursor *cur = (sqbCursor *)pc;
  (void)idxNum;
  (void)idxStr;
  (void)argc;
  (void)argv;
  free(cur->mem);
  cur->mem = 0;
  cur->rows = 0;
  cur->nRow = 0;
  cur->iRow = 0;
  return sqbGoVtabFilter(cur, ((sqbVtab *)pc->pVtab)->h);
}

static int sqb_vnext(sqlite3_vtab_cursor *pc) {
  ((sqbCursor *)pc)->iRow++;
  return SQB_SQLITE_OK;
}

static int sqb_veof(sqlite3_vtab_cursor *pc) {
  sqbCursor *cur = (sqbCursor *)pc;
  return cur->iRow >= cur->nRow;
}

static int sqb_vcolumn(sqlite3_vtab_cursor *pc, sqlite3_context *ctx, int i) {
  sqbCursor *cur = (sqbCursor *)pc;
  sqbRow *r;
  sqbVal *v;
  if (cur->iRow >= cur->nRow) {
    sqlite3_result_null(ctx);
    return SQB_SQLITE_OK;
  }
  r = &cur->rows[cur->iRow];
  if (i < 0 || i >= r->n) {
    sqlite3_result_null(ctx);
    return SQB_SQLITE_OK;
  }
  v = &r->v[i];
  /* TRANSIENT, not STATIC: a value SQLite keeps (an aggregate's running
  ** max(), say) must not point into rows the next xFilter frees. */
  switch (v->type) {
    case SQB_SQLITE_INTEGER:
      sqlite3_result_int64(ctx, v->i);
      break;
    case SQB_SQLITE_FLOAT:
      sqlite3_result_double(ctx, v->f);
      break;
    case SQB_SQLITE_TEXT:
      sqb_result_text(ctx, v->p, v->n);
      break;
    case SQB_SQLITE_BLOB:
      sqb_result_blob(ctx, v->p, v->n);
      break;
    default:
      sqlite3_result_null(ctx);
  }
  return SQB_SQLITE_OK;
}

static int sqb_vrowid(sqlite3_vtab_cursor *pc, sqlite3_int64 *pRowid) {
  *pRowid = ((sqbCursor *)pc)->iRow;
  return SQB_SQLITE_OK;
}

/* Read-only: xUpdate is NULL, so INSERT/UPDATE/DELETE fail with SQLite's
** "table X may not be modified". xDestroy (DROP TABLE) only disconnects:
** the table has no storage of its own. */
static const sqlite3_module sqb_module = {
    1,              /* iVersion */
    sqb_vcreate,     /* xCreate */
    sqb_vconnect,    /* xConnect */
    sqb_vbestindex,  /* xBestIndex */
    sqb_vdisconnect, /* xDisconnect */
    sqb_vdisconnect, /* xDestroy */
    sqb_vopen,       /* xOpen */
    sqb_vclose,      /* xClose */
    sqb_vfilter,     /* xFilter */
    sqb_vnext,       /* xNext */
    sqb_veof,        /* xEof */
    sqb_vcolumn,     /* xColumn */
    sqb_vrowid,      /* xRowid */
    0,              /* xUpdate */
    0,              /* xBegin */
    0,              /* xSync */
    0,              /* xCommit */
    0,              /* xRollback */
    0,              /* xFindFunction */
    0,              /* xRename */
};

static void sqb_module_destroy(void *p) { sqbGoDeleteHandle((uintptr_t)p); }

int sqb_create_module(sqbConn *c, const char *name, uintptr_t h) {
  return sqlite3_create_module_v2(c->db, name, &sqb_module, (void *)h, sqb_module_destroy);
}
