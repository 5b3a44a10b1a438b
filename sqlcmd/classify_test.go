package sqlcmd

import "testing"

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want stmtKind
	}{
		{"SELECT 1", kindOther},
		{"INSERT INTO t VALUES (1)", kindOther},
		{"COMMIT", kindTxnEnd},
		{"  end transaction;", kindTxnEnd},
		{"/* c */ RELEASE sp", kindTxnEnd},
		{"-- line\ncommit", kindTxnEnd},
		{"BEGIN", kindOther},
		{"BEGIN DEFERRED", kindOther},
		{"begin immediate", kindBeginWrite},
		{"BEGIN EXCLUSIVE TRANSACTION", kindBeginWrite},
		{"VACUUM", kindVacuum},
		{"VACUUM main", kindVacuum},
		{"VACUUM INTO 'x.db'", kindVacuumInto},
		{"vacuum main into '/tmp/y'", kindVacuumInto},
		{"VACUUM /* into */ main", kindVacuum},
		{"VACUUM 'into'", kindVacuum},
		{"PRAGMA optimize", kindMayWrite},
		{"PRAGMA main.optimize(0x10002)", kindMayWrite},
		{`PRAGMA "optimize"`, kindMayWrite},
		{"PRAGMA [main].'optimize'", kindMayWrite},
		{"PRAGMA page_count", kindOther},
		{"SELECT 'COMMIT'", kindOther},
		{"", kindOther},
	} {
		if got := classify([]byte(c.sql)); got != c.want {
			t.Errorf("classify(%q) = %d, want %d", c.sql, got, c.want)
		}
	}
}
